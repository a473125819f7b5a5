//! The `ZookeeperCluster` custom resource (`rzk.dev/v1alpha1`).
//!
//! Every field carries a doc comment: schemars turns them into OpenAPI `description`s, so
//! `kubectl explain zookeepercluster.spec.storage` shows them. Invalid specs are rejected by the
//! API server through the schema (types, enums, minimum/maximum, patterns) and CEL rules
//! (`x-kubernetes-validations`), never by a crash in the reconciler.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, EnvVar, LocalObjectReference, PodSecurityContext, ResourceRequirements,
    SecurityContext, Toleration, TopologySpreadConstraint,
};
use kube::{CustomResource, CustomResourceExt, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// API group of the CRD.
pub const GROUP: &str = "rzk.dev";
/// Default server image repository (the tag comes from `spec.version`).
pub const DEFAULT_IMAGE: &str = "rzk/rzk-server";
/// Default server version (image tag).
pub const DEFAULT_VERSION: &str = "0.1.0";

/// Desired state of an rzk (ZooKeeper-compatible) ensemble.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "rzk.dev",
    version = "v1alpha1",
    kind = "ZookeeperCluster",
    plural = "zookeeperclusters",
    singular = "zookeepercluster",
    shortname = "zk",
    shortname = "zkc",
    category = "all",
    namespaced,
    status = "ZookeeperClusterStatus",
    scale = r#"{"specReplicasPath":".spec.replicas","statusReplicasPath":".status.replicas","labelSelectorPath":".status.selector"}"#,
    printcolumn = r#"{"name":"Replicas","type":"integer","description":"Desired number of servers","jsonPath":".spec.replicas"}"#,
    printcolumn = r#"{"name":"Ready","type":"integer","description":"Servers serving inside a quorum","jsonPath":".status.readyReplicas"}"#,
    printcolumn = r#"{"name":"Updated","type":"integer","description":"Servers running the current pod template","jsonPath":".status.updatedReplicas"}"#,
    printcolumn = r#"{"name":"Leader","type":"string","description":"Pod of the current leader","jsonPath":".status.leader"}"#,
    printcolumn = r#"{"name":"Version","type":"string","description":"Server version reported by srvr","jsonPath":".status.version"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    derive = "PartialEq",
    doc = "A ZooKeeper-compatible rzk ensemble run by rzk-operator: a StatefulSet of servers, their zoo.cfg, a headless Service for peers, a client Service and a PodDisruptionBudget."
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("(has(self.storage) && has(self.storage.storageClassName) ? self.storage.storageClassName : '') == (has(oldSelf.storage) && has(oldSelf.storage.storageClassName) ? oldSelf.storage.storageClassName : '')").message("storage.storageClassName is immutable: it cannot be added, changed or removed once the cluster exists (StatefulSet volumeClaimTemplates cannot change)").field_path(".storage.storageClassName"))]
pub struct ZookeeperClusterSpec {
    /// Number of servers in the ensemble (1 to 9). Odd counts are recommended: an even count
    /// tolerates no more failures than one server fewer (4 servers survive 1 failure, like 3).
    /// Even counts are accepted because a change such as 3 -> 5 passes through 4 anyway.
    /// Changes are applied one server at a time through the ensemble's dynamic reconfiguration:
    /// a new server joins (catches up as a non-voter, then becomes a voter) before the next one
    /// is added; on a scale-down the highest ordinals are removed from the ensemble before their
    /// pods are deleted, never leaving fewer than a quorum of healthy voters.
    #[serde(default = "default_replicas")]
    #[schemars(range(min = 1, max = 9))]
    pub replicas: i32,

    /// Server image repository, or a full image reference. When it has no tag or digest,
    /// `:<version>` is appended.
    #[serde(default = "default_image")]
    #[schemars(length(min = 1))]
    pub image: String,

    /// Server version; used as the image tag when `image` has none, and recorded in
    /// labels (`app.kubernetes.io/version`).
    #[serde(default = "default_version")]
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
    )]
    pub version: String,

    /// Image pull policy of the server container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<PullPolicy>,

    /// Extra zoo.cfg keys (e.g. `tickTime: "2000"`, `maxClientCnxns: "100"`,
    /// `autopurge.snapRetainCount: "5"`). Keys the operator owns (`dataDir`, `dataLogDir`,
    /// `clientPort`, `clientPortAddress`, `server.N`, `dynamicConfigFile`, `reconfigEnabled`,
    /// `standaloneEnabled`, `DigestAuthenticationProvider.superDigest`) and the ports it
    /// exposes (`admin.serverPort`, `metricsProvider.httpPort`: see `ports`; `admin.enableServer`,
    /// `admin.serverAddress`, `metricsProvider.httpHost`) cannot be set here. A
    /// `4lw.commands.whitelist` is extended with the words the operator needs (srvr, ruok,
    /// conf, mntr). A change rolls the servers one at a time (leader last).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 64))]
    #[x_kube(validation = kube::core::Rule::new("self.all(k, !(k in ['dataDir', 'dataLogDir', 'clientPort', 'clientPortAddress', 'dynamicConfigFile', 'reconfigEnabled', 'standaloneEnabled', 'DigestAuthenticationProvider.superDigest', 'zookeeper.DigestAuthenticationProvider.superDigest']) && !k.startsWith('server.'))").message("config may not set dataDir, dataLogDir, clientPort, clientPortAddress, dynamicConfigFile, reconfigEnabled, standaloneEnabled, the superDigest or server.N: the operator manages them"))]
    #[x_kube(validation = kube::core::Rule::new("!('admin.serverPort' in self) && !('metricsProvider.httpPort' in self) && !('secureClientPort' in self)").message("config may not set admin.serverPort, metricsProvider.httpPort or secureClientPort: set spec.ports.admin / spec.ports.metrics instead (the pod ports and Services follow them; the operator does not expose a TLS client port yet)"))]
    #[x_kube(validation = kube::core::Rule::new("!('admin.enableServer' in self) && !('admin.serverAddress' in self) && !('metricsProvider.httpHost' in self)").message("config may not set admin.enableServer, admin.serverAddress or metricsProvider.httpHost: the operator reaches the AdminServer (replication lag, leadership transfer) and the metrics on the pod address"))]
    pub config: BTreeMap<String, String>,

    /// Persistent storage of each server (one PersistentVolumeClaim per pod, from the
    /// StatefulSet's volumeClaimTemplates).
    #[serde(default)]
    pub storage: StorageSpec,

    /// CPU/memory requests and limits of the server container. When unset: requests cpu
    /// 100m, memory 256Mi; limits cpu 1, memory 1Gi (so the pods are never BestEffort and pass
    /// a ResourceQuota that requires requests and limits). When set, it is used as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,

    /// CPU/memory requests and limits of the init container `init-myid` (it writes the server
    /// id; a shell script). When unset: requests cpu 10m, memory 16Mi; limits cpu 100m, memory
    /// 64Mi. When set, it is used as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_resources: Option<ResourceRequirements>,

    /// Scheduling affinity of the server pods. When unset, a preferred pod anti-affinity
    /// spreads servers across nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,

    /// Tolerations of the server pods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,

    /// Topology spread constraints of the server pods (their labelSelector may be omitted
    /// to mean "the pods of this cluster").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topology_spread_constraints: Vec<TopologySpreadConstraint>,

    /// Overrides merged into the generated pod template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_template: Option<PodTemplateOverrides>,

    /// Container and service ports.
    #[serde(default)]
    pub ports: PortsSpec,

    /// The client Service (the address clients connect to).
    #[serde(default)]
    pub service: ServiceSpec,

    /// The PodDisruptionBudget protecting the quorum during voluntary disruptions.
    #[serde(default)]
    pub pdb: PdbSpec,

    /// How changes to the pods (image, version, config, pod template) are rolled out.
    #[serde(default)]
    pub rollout: RolloutSpec,
}

/// Rolling updates: the operator restarts one server at a time (followers first, the leader
/// last after handing its leadership to an up-to-date follower) and waits after each for the
/// server to rejoin and the ensemble to be healthy (quorum, every voter synced).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutSpec {
    /// How long a server may stay unhealthy (not Ready, or not back in sync) after it was
    /// (re)started before the rollout is halted: the cluster reports Degraded
    /// (`RolloutHalted`) with a Warning event, and no further server is taken down until it
    /// recovers or the spec changes (e.g. the bad change is reverted).
    #[serde(default = "default_health_timeout")]
    #[schemars(range(min = 10, max = 86400))]
    pub health_timeout_seconds: i32,
}

impl Default for RolloutSpec {
    fn default() -> Self {
        Self {
            health_timeout_seconds: default_health_timeout(),
        }
    }
}

/// Image pull policy.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum PullPolicy {
    /// Always pull the image.
    Always,
    /// Pull only when the image is not present on the node.
    IfNotPresent,
    /// Never pull; the image must be present.
    Never,
}

/// Persistent storage settings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct StorageSpec {
    /// Size of each server's PersistentVolumeClaim (a Kubernetes quantity, e.g. `10Gi`).
    #[serde(default = "default_storage_size")]
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("storage.size is immutable (StatefulSet volumeClaimTemplates cannot change)"))]
    #[x_kube(validation = kube::core::Rule::new("isQuantity(self) && quantity(self).isGreaterThan(quantity('0'))").message("storage.size must be a quantity greater than 0, e.g. 10Gi"))]
    #[schemars(
        length(max = 32),
        regex(pattern = r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")
    )]
    pub size: String,

    /// StorageClass of the claims; the cluster's default class when unset. Immutable: it
    /// cannot be added, changed or removed once the cluster exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,

    /// What happens to the claims when the ZookeeperCluster is deleted: `Retain` (default)
    /// keeps them (and the data) for a later cluster of the same name; `Delete` removes them.
    #[serde(default)]
    pub reclaim_policy: ReclaimPolicy,

    /// What happens to the claims of servers removed by a scale-down: `Retain` (default)
    /// keeps them so a later scale-up reuses the data; `Delete` removes them.
    #[serde(default)]
    pub scale_down_reclaim_policy: ReclaimPolicy,
}

impl Default for StorageSpec {
    fn default() -> Self {
        Self {
            size: default_storage_size(),
            storage_class_name: None,
            reclaim_policy: ReclaimPolicy::Retain,
            scale_down_reclaim_policy: ReclaimPolicy::Retain,
        }
    }
}

/// PersistentVolumeClaim reclaim policy.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum ReclaimPolicy {
    /// Keep the claims and their data.
    #[default]
    Retain,
    /// Delete the claims (and, depending on the volume's own policy, the data).
    Delete,
}

/// Ports of the server. All must differ.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = kube::core::Rule::new("[self.client, self.quorum, self.election, self.admin, self.metrics].all(p, [self.client, self.quorum, self.election, self.admin, self.metrics].exists_one(q, q == p))").message("ports must all be different"))]
pub struct PortsSpec {
    /// Client port (zoo.cfg `clientPort`), also the client Service's port.
    #[serde(default = "default_client_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub client: i32,
    /// Quorum (follower to leader) port of the `server.N` lines.
    #[serde(default = "default_quorum_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub quorum: i32,
    /// Leader election port of the `server.N` lines.
    #[serde(default = "default_election_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub election: i32,
    /// AdminServer HTTP port (zoo.cfg `admin.serverPort`).
    #[serde(default = "default_admin_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub admin: i32,
    /// Prometheus metrics port (zoo.cfg `metricsProvider.httpPort`).
    #[serde(default = "default_metrics_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub metrics: i32,
}

impl Default for PortsSpec {
    fn default() -> Self {
        Self {
            client: default_client_port(),
            quorum: default_quorum_port(),
            election: default_election_port(),
            admin: default_admin_port(),
            metrics: default_metrics_port(),
        }
    }
}

/// Client Service settings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpec {
    /// Type of the client Service.
    #[serde(default, rename = "type")]
    pub type_: ServiceType,
    /// Annotations of the client Service (e.g. for a cloud load balancer).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// Kubernetes Service type.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
pub enum ServiceType {
    /// A cluster-internal virtual IP.
    #[default]
    ClusterIP,
    /// ClusterIP plus a port on every node.
    NodePort,
    /// NodePort plus an external load balancer.
    LoadBalancer,
}

/// PodDisruptionBudget settings.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PdbSpec {
    /// Create a PodDisruptionBudget for the server pods.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Servers that may be voluntarily disrupted at once. Keep it at 1 so an eviction never
    /// costs the quorum more than one member.
    #[serde(default = "default_max_unavailable")]
    #[schemars(range(min = 1))]
    pub max_unavailable: i32,
}

impl Default for PdbSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            max_unavailable: default_max_unavailable(),
        }
    }
}

/// Overrides merged into the generated pod template.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodTemplateOverrides {
    /// Extra pod labels (the operator's own selector labels win on conflict).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Extra pod annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Node selector of the server pods.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    /// PriorityClass of the server pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
    /// ServiceAccount the server pods run as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Pod security context, merged field by field over the default: runAsUser/runAsGroup/
    /// fsGroup 1000 (the data volume is writable by the server), runAsNonRoot, seccompProfile
    /// RuntimeDefault (the Pod Security "restricted" level).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_context: Option<PodSecurityContext>,
    /// Security context of every container (the server and `init-myid`), merged field by
    /// field over the default, which passes the Pod Security "restricted" level:
    /// allowPrivilegeEscalation false, capabilities drop ALL, runAsNonRoot, runAsUser/runAsGroup
    /// 1000, readOnlyRootFilesystem (the server writes only to its data volume; /tmp is an
    /// emptyDir), seccompProfile RuntimeDefault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_security_context: Option<SecurityContext>,
    /// Mount a ServiceAccount token into the server pods. Default false: the servers do not
    /// talk to the Kubernetes API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automount_service_account_token: Option<bool>,
    /// Secrets used to pull the image.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_pull_secrets: Vec<LocalObjectReference>,
    /// Extra environment variables of the server container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    /// Grace period for a server to shut down, in seconds. Default 38: a leader that gets
    /// SIGTERM first hands its leadership over (at most 8 s), then closes its sessions and
    /// flushes its log. Below 8 a leader may be killed mid hand-over (an election instead).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub termination_grace_period_seconds: Option<i64>,
}

/// Observed state, written by the operator. Besides observations it holds the one piece of
/// state the operator must not lose: which server id each pod ordinal runs (`serverIds`,
/// `nextServerId`); server ids are never reused.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ZookeeperClusterStatus {
    /// The `metadata.generation` this status was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Number of server pods the StatefulSet runs now (the scale subresource reads it). During
    /// a scale operation it moves one server at a time towards `spec.replicas`.
    #[serde(default)]
    pub replicas: i32,
    /// Number of servers that are Ready (serving inside a quorum).
    #[serde(default)]
    pub ready_replicas: i32,
    /// Number of server pods running the current pod template (image, version, config).
    #[serde(default)]
    pub updated_replicas: i32,
    /// Label selector of the server pods (for the scale subresource).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
    /// Pod name of the current leader.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader: Option<String>,
    /// Server version reported by `srvr`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Whether a quorum is serving: a leader, and a majority of the voting members serving.
    #[serde(default)]
    pub quorum_healthy: bool,
    /// The server pods, by ordinal.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<MemberStatus>,
    /// The ensemble's membership as the servers report it (`/zookeeper/config`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ensemble: Option<EnsembleStatus>,
    /// Server id of each pod ordinal, allocated by the operator. A pod whose volume is new or
    /// was wiped is given a fresh id (ids are never reused: a server that lost its data must
    /// not vote under an id it may have voted with before).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub server_ids: Vec<ServerIdStatus>,
    /// The next server id to allocate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_server_id: Option<i64>,
    /// Client connect string for in-cluster clients (`host:port` of the client Service).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_string: Option<String>,
    /// Available, Progressing and Degraded conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// One server pod.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberStatus {
    /// Server id (`myid`) allocated to the pod.
    pub id: i64,
    /// Pod name.
    pub pod: String,
    /// Role reported by `srvr`: leader, follower or observer; `joining` while the server runs
    /// but is not (yet) a member of the ensemble; `unknown` when it does not answer.
    pub role: String,
    /// Whether the pod is Ready.
    #[serde(default)]
    pub ready: bool,
    /// Whether the leader reports this server in sync (within 100 log entries); the leader
    /// itself is in sync.
    #[serde(default)]
    pub synced: bool,
    /// Whether the pod runs the current pod template.
    #[serde(default)]
    pub updated: bool,
}

/// The membership of the ensemble.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnsembleStatus {
    /// Server ids of the voting members.
    #[serde(default)]
    pub voters: Vec<i64>,
    /// Server ids of the observers (non-voting members).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub observers: Vec<i64>,
    /// Configuration version (hex), as in `/zookeeper/config`.
    #[serde(default)]
    pub config_version: String,
}

/// The server id of one pod ordinal.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServerIdStatus {
    /// StatefulSet ordinal of the pod (`<name>-<ordinal>`).
    pub ordinal: i32,
    /// Server id.
    pub id: i64,
    /// Whether the id has been seen in the ensemble's membership. A pod whose volume turns out
    /// empty under a joined id is given a new id (its init container refuses to start).
    #[serde(default)]
    pub joined: bool,
}

/// A status condition (the usual Kubernetes shape).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Condition type: Available, Progressing or Degraded.
    #[serde(rename = "type")]
    pub type_: String,
    /// True, False or Unknown.
    pub status: String,
    /// Machine-readable reason in CamelCase.
    #[serde(default)]
    pub reason: String,
    /// Human-readable message.
    #[serde(default)]
    pub message: String,
    /// When the status last changed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
    /// The generation the condition was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

fn default_replicas() -> i32 {
    3
}
fn default_image() -> String {
    DEFAULT_IMAGE.into()
}
fn default_version() -> String {
    DEFAULT_VERSION.into()
}
fn default_storage_size() -> String {
    "1Gi".into()
}
fn default_client_port() -> i32 {
    2181
}
fn default_quorum_port() -> i32 {
    2888
}
fn default_election_port() -> i32 {
    3888
}
fn default_admin_port() -> i32 {
    8080
}
fn default_metrics_port() -> i32 {
    7000
}
fn default_health_timeout() -> i32 {
    300
}
fn default_true() -> bool {
    true
}
fn default_max_unavailable() -> i32 {
    1
}

/// The CRD as YAML: the content of `crds/zookeepercluster.yaml`.
pub fn crd_yaml() -> String {
    let mut crd = serde_json::to_value(ZookeeperCluster::crd()).expect("CRD serializes");
    unwrap_descriptions(&mut crd);
    quantity_patterns(&mut crd);
    let yaml = serde_saphyr::to_string(&crd).expect("CRD serializes to YAML");
    format!(
        "# Generated by `rzk-operator crd` from operator/src/crd.rs -- do not edit.\n\
         # Regenerate: cargo run -p rzk-operator -- crd > crds/zookeepercluster.yaml\n\
         # (and copy it to charts/rzk-operator/crds/zookeepercluster.yaml)\n{yaml}"
    )
}

/// Pattern of a Kubernetes quantity (resource.Quantity's parser).
pub const QUANTITY_PATTERN: &str = r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$";

/// k8s-openapi's schema of a Quantity (`resources.requests.cpu`, ...) accepts any string: give
/// every such node the quantity pattern, so the API server refuses e.g. `cpu: lots` naming the
/// field, and a one-line description instead of the type's long essay.
fn quantity_patterns(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            let is_quantity = map.get("x-kubernetes-int-or-string") == Some(&true.into())
                && map
                    .get("description")
                    .and_then(|d| d.as_str())
                    .is_some_and(|d| d.starts_with("Quantity is a fixed-point"));
            if is_quantity {
                map.insert(
                    "description".into(),
                    "A Kubernetes quantity, e.g. 500m, 2, 256Mi, 1.5Gi.".into(),
                );
                map.insert("pattern".into(), QUANTITY_PATTERN.into());
            }
            map.values_mut().for_each(quantity_patterns);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(quantity_patterns),
        _ => {}
    }
}

/// Doc comments are wrapped at ~100 columns; join single line breaks inside a paragraph so that
/// `kubectl explain` wraps the text itself (blank lines between paragraphs are kept).
fn unwrap_descriptions(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                match child {
                    serde_json::Value::String(s) if k == "description" => {
                        *s = s
                            .split("\n\n")
                            .map(|para| {
                                para.split('\n')
                                    .map(str::trim)
                                    .collect::<Vec<_>>()
                                    .join(" ")
                            })
                            .collect::<Vec<_>>()
                            .join("\n\n");
                    }
                    _ => unwrap_descriptions(child),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(unwrap_descriptions),
        _ => {}
    }
}
