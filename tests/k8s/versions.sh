# Versions of the test control plane (sourced by the tests/k8s scripts).
K8S_VERSION=1.36.3          # k8s.io/kubernetes v$K8S_VERSION, staging modules v0.${K8S_VERSION#1.}
ETCD_VERSION=3.6.16         # go.etcd.io/etcd/server/v3
HELM_VERSION=3.21.4         # helm.sh/helm/v3
