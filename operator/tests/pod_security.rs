//! The pods the operator creates pass the Pod Security "restricted" level and a ResourceQuota
//! that requires requests and limits (checked on the built StatefulSet, every container).

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Container, PodSpec};
use kube::core::ObjectMeta;
use rzk_operator::builders;
use rzk_operator::crd::ZookeeperCluster;

const DIGEST: &str = "super:lK75jTNcA+U9vtVEw5vB51mj/w4=";

fn cluster(yaml: &str) -> ZookeeperCluster {
    let mut zk = ZookeeperCluster::new("zk", serde_saphyr::from_str(yaml).expect("spec parses"));
    zk.metadata = ObjectMeta {
        name: Some("zk".into()),
        namespace: Some("prod".into()),
        uid: Some("uid-1".into()),
        ..Default::default()
    };
    zk
}

fn sts(zk: &ZookeeperCluster) -> StatefulSet {
    builders::statefulset(zk, 3, &builders::zoo_cfg(zk, DIGEST))
}

fn pod(zk: &ZookeeperCluster) -> PodSpec {
    sts(zk).spec.unwrap().template.spec.unwrap()
}

fn all_containers(p: &PodSpec) -> Vec<&Container> {
    p.init_containers
        .iter()
        .flatten()
        .chain(p.containers.iter())
        .collect()
}

/// The rules of the "restricted" Pod Security Standard (v1.36) that concern a pod template,
/// as the PodSecurity admission plugin evaluates them (container values override the pod's).
/// Returns the violations.
fn restricted_violations(p: &PodSpec) -> Vec<String> {
    let mut v = Vec::new();
    if p.host_network == Some(true) || p.host_pid == Some(true) || p.host_ipc == Some(true) {
        v.push("host namespaces".to_string());
    }
    for vol in p.volumes.iter().flatten() {
        let allowed = vol.config_map.is_some()
            || vol.empty_dir.is_some()
            || vol.persistent_volume_claim.is_some()
            || vol.secret.is_some()
            || vol.projected.is_some()
            || vol.downward_api.is_some()
            || vol.csi.is_some()
            || vol.ephemeral.is_some();
        if !allowed {
            v.push(format!("volume {} has a restricted type", vol.name));
        }
    }
    let psc = p.security_context.clone().unwrap_or_default();
    if psc.run_as_user == Some(0) {
        v.push("pod runAsUser 0".into());
    }
    for c in all_containers(p) {
        let sc = c.security_context.clone().unwrap_or_default();
        let n = &c.name;
        if sc.privileged == Some(true) {
            v.push(format!("{n}: privileged"));
        }
        if sc.allow_privilege_escalation != Some(false) {
            v.push(format!("{n}: allowPrivilegeEscalation != false"));
        }
        let caps = sc.capabilities.clone().unwrap_or_default();
        if !caps.drop.iter().flatten().any(|c| c == "ALL") {
            v.push(format!("{n}: capabilities.drop lacks ALL"));
        }
        if caps.add.iter().flatten().any(|c| c != "NET_BIND_SERVICE") {
            v.push(format!("{n}: adds capabilities"));
        }
        if sc.run_as_non_root.or(psc.run_as_non_root) != Some(true) {
            v.push(format!("{n}: runAsNonRoot != true"));
        }
        if sc.run_as_user.or(psc.run_as_user) == Some(0) {
            v.push(format!("{n}: runAsUser 0"));
        }
        let seccomp = sc
            .seccomp_profile
            .as_ref()
            .or(psc.seccomp_profile.as_ref())
            .map(|s| s.type_.as_str());
        if !matches!(seccomp, Some("RuntimeDefault" | "Localhost")) {
            v.push(format!("{n}: seccompProfile {seccomp:?}"));
        }
        if c.ports
            .iter()
            .flatten()
            .any(|p| p.host_port.is_some_and(|h| h != 0))
        {
            v.push(format!("{n}: hostPort"));
        }
    }
    v
}

/// Requests and limits for CPU and memory on every container (what a quota with
/// `requests.cpu`, `requests.memory`, `limits.cpu`, `limits.memory` demands; not BestEffort).
fn quota_violations(p: &PodSpec) -> Vec<String> {
    let mut v = Vec::new();
    for c in all_containers(p) {
        let r = c.resources.clone().unwrap_or_default();
        for (what, m) in [("requests", &r.requests), ("limits", &r.limits)] {
            for res in ["cpu", "memory"] {
                if !m.as_ref().is_some_and(|m| m.contains_key(res)) {
                    v.push(format!("{}: no {what}.{res}", c.name));
                }
            }
        }
    }
    v
}

#[test]
fn default_pods_pass_the_restricted_level_and_a_quota() {
    let p = pod(&cluster("{}"));
    assert_eq!(all_containers(&p).len(), 2, "init-myid and rzk");
    assert_eq!(restricted_violations(&p), Vec::<String>::new());
    assert_eq!(quota_violations(&p), Vec::<String>::new());
    for c in all_containers(&p) {
        let sc = c.security_context.as_ref().unwrap();
        assert_eq!(sc.read_only_root_filesystem, Some(true), "{}", c.name);
        assert_eq!(sc.run_as_user, Some(builders::SERVER_UID), "{}", c.name);
    }
    let psc = p.security_context.as_ref().unwrap();
    assert_eq!(
        psc.fs_group,
        Some(builders::SERVER_UID),
        "data volume writable"
    );
}

/// The checker itself: each rule fails on a spec that breaks it.
#[test]
fn the_checks_catch_violations() {
    let base = pod(&cluster("{}"));
    let mut p = base.clone();
    p.containers[0]
        .security_context
        .as_mut()
        .unwrap()
        .allow_privilege_escalation = None;
    assert!(restricted_violations(&p)[0].contains("allowPrivilegeEscalation"));
    let mut p = base.clone();
    p.init_containers.as_mut().unwrap()[0]
        .security_context
        .as_mut()
        .unwrap()
        .capabilities = None;
    assert!(restricted_violations(&p)[0].contains("init-myid: capabilities"));
    let mut p = base.clone();
    p.containers[0]
        .security_context
        .as_mut()
        .unwrap()
        .seccomp_profile = None;
    assert!(
        restricted_violations(&p).is_empty(),
        "the pod-level profile covers it"
    );
    p.security_context.as_mut().unwrap().seccomp_profile = None;
    assert!(restricted_violations(&p)[0].contains("seccompProfile"));
    let mut p = base.clone();
    p.containers[0].resources.as_mut().unwrap().limits = None;
    assert_eq!(
        quota_violations(&p),
        ["rzk: no limits.cpu", "rzk: no limits.memory"]
    );
}

#[test]
fn container_security_context_override_merges_over_the_default() {
    let zk = cluster("podTemplate:\n  containerSecurityContext: {runAsUser: 2000, readOnlyRootFilesystem: false}\n  securityContext: {fsGroup: 3000}\n");
    let p = pod(&zk);
    for c in all_containers(&p) {
        let sc = c.security_context.as_ref().unwrap();
        assert_eq!(sc.run_as_user, Some(2000), "{}", c.name);
        assert_eq!(sc.read_only_root_filesystem, Some(false), "{}", c.name);
        assert_eq!(
            sc.allow_privilege_escalation,
            Some(false),
            "{}: default kept",
            c.name
        );
    }
    let psc = p.security_context.as_ref().unwrap();
    assert_eq!(psc.fs_group, Some(3000));
    assert_eq!(psc.run_as_non_root, Some(true), "default kept");
    assert_eq!(restricted_violations(&p), Vec::<String>::new());
    // An override that breaks the level is the user's choice, and shows.
    let p = pod(&cluster(
        "podTemplate:\n  containerSecurityContext: {allowPrivilegeEscalation: true}\n",
    ));
    assert_eq!(restricted_violations(&p).len(), 2);
}

#[test]
fn resources_are_used_as_given_when_set() {
    let zk = cluster("resources: {requests: {cpu: \"2\", memory: 4Gi}}\ninitResources: {limits: {cpu: 50m, memory: 32Mi}}\n");
    let p = pod(&zk);
    let server = &p.containers[0].resources.as_ref().unwrap();
    assert_eq!(server.requests.as_ref().unwrap()["memory"].0, "4Gi");
    assert!(
        server.limits.is_none(),
        "no default limit below the user's request"
    );
    let init = &p.init_containers.as_ref().unwrap()[0]
        .resources
        .as_ref()
        .unwrap();
    assert_eq!(init.limits.as_ref().unwrap()["memory"].0, "32Mi");
    assert!(init.requests.is_none());
}

#[test]
fn server_pod_writes_only_to_its_volumes() {
    let p = pod(&cluster("{}"));
    let server = &p.containers[0];
    let writable: Vec<&str> = server
        .volume_mounts
        .iter()
        .flatten()
        .filter(|m| m.read_only != Some(true))
        .map(|m| m.mount_path.as_str())
        .collect();
    assert_eq!(writable, [builders::DATA_DIR, builders::TMP_DIR]);
    let tmp = p
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == "tmp")
        .unwrap();
    assert!(tmp.empty_dir.as_ref().unwrap().size_limit.is_some());
    // dataDir is the data volume: the server writes nowhere else.
    assert!(builders::zoo_cfg(&cluster("{}"), DIGEST)
        .contains(&format!("\ndataDir={}\n", builders::DATA_DIR)));
}

#[test]
fn probes_token_and_grace_period() {
    let p = pod(&cluster("{}"));
    let c = &p.containers[0];
    let startup = c.startup_probe.as_ref().expect("startupProbe");
    assert!(startup.exec.as_ref().unwrap().command.as_ref().unwrap()[2].contains("ruok"));
    assert!(
        startup.period_seconds.unwrap() * startup.failure_threshold.unwrap() >= 120,
        "a slow start (large snapshot) is not killed"
    );
    assert_eq!(p.automount_service_account_token, Some(false));
    let grace = p.termination_grace_period_seconds.unwrap();
    assert!(
        grace > builders::SIGTERM_HANDOVER_SECONDS + 10,
        "room for the SIGTERM hand-over and the shutdown: {grace}"
    );
    let p = pod(&cluster(
        "podTemplate: {terminationGracePeriodSeconds: 90, automountServiceAccountToken: true}\n",
    ));
    assert_eq!(p.termination_grace_period_seconds, Some(90));
    assert_eq!(p.automount_service_account_token, Some(true));
}

#[test]
fn cluster_labels_and_annotations_reach_owned_objects() {
    let mut zk = cluster("service: {annotations: {lb: internal}}\n");
    zk.metadata.labels = Some(
        [("team", "a"), ("app.kubernetes.io/name", "hijack")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    zk.metadata.annotations = Some(
        [
            ("owner", "ops"),
            ("kubectl.kubernetes.io/last-applied-configuration", "{}"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
    );
    let ctx = builders::BuildContext {
        cluster_domain: "cluster.local".into(),
    };
    let metas = [
        sts(&zk).metadata,
        builders::client_service(&zk).metadata,
        builders::headless_service(&zk).metadata,
        builders::pdb(&zk).metadata,
        builders::config_map(&zk, "x").metadata,
        builders::members_config_map(&zk, &ctx, &[]).metadata,
    ];
    for m in &metas {
        let l = m.labels.as_ref().unwrap();
        assert_eq!(l["team"], "a", "{:?}", m.name);
        assert_eq!(l["app.kubernetes.io/name"], "rzk", "operator labels win");
        let a = m.annotations.as_ref().unwrap();
        assert_eq!(a["owner"], "ops");
        assert!(!a.contains_key("kubectl.kubernetes.io/last-applied-configuration"));
    }
    assert_eq!(metas[1].annotations.as_ref().unwrap()["lb"], "internal");
    // Not into the pod template: a label change must not restart the servers.
    let tpl = sts(&zk).spec.unwrap().template.metadata.unwrap();
    assert!(!tpl.labels.unwrap().contains_key("team"));
}
