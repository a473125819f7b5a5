//! Pure functions from a `ZookeeperCluster` to the objects the operator owns.
//!
//! Objects (all in the cluster's namespace, all with a controller owner reference to it):
//!
//! | object | name | purpose |
//! | --- | --- | --- |
//! | ConfigMap | `<name>-config-<hash>` | `zoo.cfg` (everything but the server list), one immutable ConfigMap per revision: a pod keeps reading the config it was started with |
//! | ConfigMap | `<name>-members` | `zoo.cfg.dynamic` (one `server.N` line per pod), the server id of every pod (`<pod>.myid`) and the ids that joined the ensemble (`joined`) |
//! | Service (headless) | `<name>-headless` | stable peer DNS names `<name>-<i>.<name>-headless.<ns>.svc.<domain>`, `publishNotReadyAddresses` so peers resolve before they are ready |
//! | Service | `<name>` | the client address (`<name>.<ns>.svc:<client port>`) |
//! | StatefulSet | `<name>` | the servers; `OnDelete` updates (the operator restarts pods itself, leader last) |
//! | PodDisruptionBudget | `<name>` | `maxUnavailable` (default 1) |
//!
//! ## Server ids (`myid`)
//! The operator allocates server ids and records `ordinal -> id` in the cluster status
//! (`status.serverIds`, `status.nextServerId`); ids are never reused. The members ConfigMap
//! publishes them as `<pod>.myid`, and the init container `init-myid` ([`INIT_MYID_SCRIPT`])
//! writes `/data/myid` from it before the server starts:
//! * same id as on the volume: nothing to do;
//! * the volume holds the data of another (retired) id: that data is discarded (the id was removed
//!   from the ensemble when its pod was scaled away; the new member catches up from the leader);
//! * the volume is empty but the id already joined the ensemble (listed in `joined`): the volume
//!   was wiped, and a server must not come back under an id it may have voted with. The init
//!   container exits with code 3; the operator then allocates a new id for the pod, removes the old
//!   one from the ensemble and adds the new one.
//!
//! ## zoo.cfg
//! `zoo.cfg` is the same for every pod of a revision; its `server.N` lines live in the dynamic
//! config file (`dynamicConfigFile`), which lists every pod's id. The servers use it only to find
//! their own address and, for a brand-new ensemble, the initial members (the lowest id
//! bootstraps); afterwards membership changes only through `reconfig` (`reconfigEnabled=true`,
//! super user `DigestAuthenticationProvider.superDigest`), and `standaloneEnabled=false` keeps a
//! one-server ensemble able to grow. Changes to zoo.cfg (not to the server list) create a new
//! revision: the pod template names the new ConfigMap and carries `rzk.dev/config-hash`.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
    StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, ConfigMap, ConfigMapVolumeSource, Container, ContainerPort,
    EmptyDirVolumeSource, EnvVar, ExecAction, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PodAffinityTerm, PodAntiAffinity, PodSecurityContext, PodSpec, PodTemplateSpec, Probe,
    ResourceRequirements, SeccompProfile, SecurityContext, Service, ServicePort, ServiceSpec,
    Volume, VolumeMount, VolumeResourceRequirements, WeightedPodAffinityTerm,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::{Resource, ResourceExt};

use crate::crd::{ReclaimPolicy, ServerIdStatus, ZookeeperCluster};

/// Name of the server container.
pub const CONTAINER: &str = "rzk";
/// Name of the init container that writes `myid`.
pub const INIT_MYID: &str = "init-myid";
/// Exit code of `init-myid` when the volume is empty but the pod's id already joined.
pub const INIT_EXIT_WIPED: i32 = 3;
/// Mount path of the data volume (zoo.cfg `dataDir`).
pub const DATA_DIR: &str = "/data";
/// Mount path of the config volume (the revision's zoo.cfg).
pub const CONF_DIR: &str = "/conf";
/// Mount path of the members ConfigMap (dynamic config file, server ids).
pub const MEMBERS_DIR: &str = "/members";
/// Key of the dynamic config file in the members ConfigMap.
pub const DYNAMIC_FILE: &str = "zoo.cfg.dynamic";
/// Key listing the joined ids (one per line) in the members ConfigMap.
pub const JOINED_KEY: &str = "joined";
/// Annotation on the pod template with the hash of zoo.cfg.
pub const CONFIG_HASH_ANNOTATION: &str = "rzk.dev/config-hash";
/// Annotation on the pod template with the hash of the whole template: a pod whose value differs
/// from the StatefulSet's runs an outdated revision (image, version, config, overrides).
pub const TEMPLATE_HASH_ANNOTATION: &str = "rzk.dev/template-hash";
/// Label of the per-revision zoo.cfg ConfigMaps (value: `zoo.cfg`).
pub const CONFIG_LABEL: &str = "rzk.dev/config";
/// Uid and gid the server runs as (the `rzk` user of the server image, deploy/Dockerfile).
pub const SERVER_UID: i64 = 1000;
/// Mount path of the server's scratch emptyDir (the root filesystem is read-only).
pub const TMP_DIR: &str = "/tmp";
/// A leader that gets SIGTERM hands its leadership over within this bound (rzk-server).
pub const SIGTERM_HANDOVER_SECONDS: i64 = 8;
/// Default `terminationGracePeriodSeconds`: the hand-over, then 30 s to close the sessions and
/// flush the log.
pub const DEFAULT_TERMINATION_GRACE_SECONDS: i64 = SIGTERM_HANDOVER_SECONDS + 30;
/// Four-letter words the operator and the probes use (added to a user's whitelist).
pub const REQUIRED_4LW: [&str; 4] = ["srvr", "ruok", "conf", "mntr"];
/// `app.kubernetes.io/name` of everything the operator creates.
pub const APP_NAME: &str = "rzk";
/// Field manager / controller name.
pub const MANAGER: &str = "rzk-operator";

/// Settings of the operator (not of a cluster).
#[derive(Clone, Debug)]
pub struct BuildContext {
    /// DNS domain of the Kubernetes cluster (`cluster.local`).
    pub cluster_domain: String,
}

impl Default for BuildContext {
    fn default() -> Self {
        Self {
            cluster_domain: "cluster.local".into(),
        }
    }
}

/// Name of the revision ConfigMap holding `zoo_cfg` (its hash is part of the name).
pub fn config_map_name(zk: &ZookeeperCluster, zoo_cfg: &str) -> String {
    format!("{}-config-{}", zk.name_any(), &fnv_hex(zoo_cfg)[..10])
}
pub fn members_config_map_name(zk: &ZookeeperCluster) -> String {
    format!("{}-members", zk.name_any())
}
pub fn headless_service_name(zk: &ZookeeperCluster) -> String {
    format!("{}-headless", zk.name_any())
}
pub fn client_service_name(zk: &ZookeeperCluster) -> String {
    zk.name_any()
}
pub fn statefulset_name(zk: &ZookeeperCluster) -> String {
    zk.name_any()
}
pub fn pdb_name(zk: &ZookeeperCluster) -> String {
    zk.name_any()
}
/// Pod name of a StatefulSet ordinal.
pub fn pod_name(zk: &ZookeeperCluster, ordinal: i32) -> String {
    format!("{}-{}", statefulset_name(zk), ordinal)
}
/// Ordinal of a pod of this cluster (`<name>-<ordinal>`).
pub fn ordinal_of_pod(zk: &ZookeeperCluster, pod: &str) -> Option<i32> {
    pod.strip_prefix(&format!("{}-", statefulset_name(zk)))
        .and_then(|o| o.parse::<i32>().ok())
        .filter(|o| *o >= 0)
}

fn namespace(zk: &ZookeeperCluster) -> String {
    zk.namespace().unwrap_or_else(|| "default".into())
}

/// The peer DNS name of the pod with this ordinal, through the headless Service.
pub fn peer_host(zk: &ZookeeperCluster, ordinal: i32, ctx: &BuildContext) -> String {
    format!(
        "{}.{}.{}.svc.{}",
        pod_name(zk, ordinal),
        headless_service_name(zk),
        namespace(zk),
        ctx.cluster_domain
    )
}

/// Client connect string (through the client Service).
pub fn connect_string(zk: &ZookeeperCluster, ctx: &BuildContext) -> String {
    format!(
        "{}.{}.svc.{}:{}",
        client_service_name(zk),
        namespace(zk),
        ctx.cluster_domain,
        zk.spec.ports.client
    )
}

/// Labels selecting the pods of a cluster (immutable: used in the StatefulSet selector).
pub fn selector_labels(zk: &ZookeeperCluster) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_string(), APP_NAME.to_string()),
        ("app.kubernetes.io/instance".to_string(), zk.name_any()),
    ])
}

/// Label selector string of the pods (for `status.selector` and list calls).
pub fn selector_string(zk: &ZookeeperCluster) -> String {
    selector_labels(zk)
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// All labels of owned objects.
pub fn labels(zk: &ZookeeperCluster) -> BTreeMap<String, String> {
    let mut l = selector_labels(zk);
    l.insert("app.kubernetes.io/component".into(), "server".into());
    l.insert("app.kubernetes.io/managed-by".into(), MANAGER.into());
    l.insert("app.kubernetes.io/version".into(), zk.spec.version.clone());
    l
}

fn owner_ref(zk: &ZookeeperCluster) -> OwnerReference {
    zk.controller_owner_ref(&())
        .unwrap_or_else(|| OwnerReference {
            api_version: "rzk.dev/v1alpha1".into(),
            kind: "ZookeeperCluster".into(),
            name: zk.name_any(),
            uid: zk.uid().unwrap_or_default(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        })
}

/// Metadata of an owned object: the cluster's own labels and annotations (but kubectl's
/// `kubectl.kubernetes.io/*` bookkeeping), then the operator's labels, which win.
fn meta(zk: &ZookeeperCluster, name: String) -> ObjectMeta {
    let mut l = zk.labels().clone();
    l.extend(labels(zk));
    let annotations: BTreeMap<String, String> = zk
        .annotations()
        .iter()
        .filter(|(k, _)| !k.starts_with("kubectl.kubernetes.io/"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    ObjectMeta {
        name: Some(name),
        namespace: zk.namespace(),
        labels: Some(l),
        annotations: (!annotations.is_empty()).then_some(annotations),
        owner_references: Some(vec![owner_ref(zk)]),
        ..Default::default()
    }
}

/// The server image reference: `image` as given when it has a tag or digest, else `image:version`.
pub fn image_ref(zk: &ZookeeperCluster) -> String {
    let image = &zk.spec.image;
    let last = image.rsplit('/').next().unwrap_or(image);
    if image.contains('@') || last.contains(':') {
        image.clone()
    } else {
        format!("{image}:{}", zk.spec.version)
    }
}

/// The `zoo.cfg` of a revision: operator-managed keys, then the user's overrides (sorted),
/// then the operator's membership keys. The server list is in the dynamic config file
/// ([`dynamic_cfg`], mounted from the members ConfigMap), so scaling changes no revision.
/// `super_digest` is the value of `DigestAuthenticationProvider.superDigest`.
pub fn zoo_cfg(zk: &ZookeeperCluster, super_digest: &str) -> String {
    let s = &zk.spec;
    let p = &s.ports;
    let mut keys: BTreeMap<String, String> = BTreeMap::from([
        ("tickTime".into(), "2000".into()),
        ("initLimit".into(), "10".into()),
        ("syncLimit".into(), "5".into()),
        ("4lw.commands.whitelist".into(), "*".into()),
        ("admin.serverPort".into(), p.admin.to_string()),
        (
            "metricsProvider.className".into(),
            "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider".into(),
        ),
        ("metricsProvider.httpPort".into(), p.metrics.to_string()),
    ]);
    for (k, v) in &s.config {
        keys.insert(k.clone(), v.clone());
    }
    // The operator needs a few four-letter words whatever the user's whitelist says.
    for k in ["4lw.commands.whitelist", "zookeeper.4lw.commands.whitelist"] {
        if let Some(v) = keys.get_mut(k) {
            if v.trim() != "*" {
                let mut words: Vec<String> = v
                    .split(',')
                    .map(|w| w.trim().to_string())
                    .filter(|w| !w.is_empty())
                    .collect();
                for w in REQUIRED_4LW {
                    if !words.iter().any(|x| x == w) {
                        words.push(w.to_string());
                    }
                }
                *v = words.join(",");
            }
        }
    }
    let mut out = String::from(
        "# Generated by rzk-operator; edit spec.config of the ZookeeperCluster instead.\n",
    );
    out.push_str(&format!("dataDir={DATA_DIR}\nclientPort={}\n", p.client));
    for (k, v) in keys {
        out.push_str(&format!("{k}={v}\n"));
    }
    out.push_str(&format!(
        "# Membership: changed only through reconfig, by the operator (super user).\n\
         standaloneEnabled=false\nreconfigEnabled=true\n\
         DigestAuthenticationProvider.superDigest={super_digest}\n\
         dynamicConfigFile={MEMBERS_DIR}/{DYNAMIC_FILE}\n"
    ));
    out
}

/// A server's `server.N` value: `host:quorum:election:participant` (the client address comes
/// from `clientPort`).
pub fn server_value(zk: &ZookeeperCluster, ordinal: i32, ctx: &BuildContext) -> String {
    let p = &zk.spec.ports;
    format!(
        "{}:{}:{}:participant",
        peer_host(zk, ordinal, ctx),
        p.quorum,
        p.election
    )
}

/// The dynamic config file: one `server.N` line per pod that has an id, by id.
pub fn dynamic_cfg(zk: &ZookeeperCluster, ctx: &BuildContext, ids: &[ServerIdStatus]) -> String {
    let mut by_id: Vec<&ServerIdStatus> = ids.iter().collect();
    by_id.sort_by_key(|s| s.id);
    by_id
        .iter()
        .map(|s| format!("server.{}={}\n", s.id, server_value(zk, s.ordinal, ctx)))
        .collect()
}

/// Hash of a pod template (its JSON, without the template-hash annotation).
pub fn template_hash(t: &PodTemplateSpec) -> String {
    let mut t = t.clone();
    if let Some(a) = t.metadata.as_mut().and_then(|m| m.annotations.as_mut()) {
        a.remove(TEMPLATE_HASH_ANNOTATION);
    }
    fnv_hex(&serde_json::to_string(&t).unwrap_or_default())
}

/// The template hash of a StatefulSet built by [`statefulset`].
pub fn template_hash_of(sts: &StatefulSet) -> Option<String> {
    sts.spec
        .as_ref()?
        .template
        .metadata
        .as_ref()?
        .annotations
        .as_ref()?
        .get(TEMPLATE_HASH_ANNOTATION)
        .cloned()
}

/// FNV-1a 64 of a string, hex (for the config-hash annotation; not cryptographic).
pub fn fnv_hex(s: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The revision ConfigMap: `zoo.cfg`, immutable (its name carries the content hash).
pub fn config_map(zk: &ZookeeperCluster, zoo_cfg: &str) -> ConfigMap {
    let mut metadata = meta(zk, config_map_name(zk, zoo_cfg));
    metadata
        .labels
        .get_or_insert_with(Default::default)
        .insert(CONFIG_LABEL.into(), "zoo.cfg".into());
    ConfigMap {
        metadata,
        data: Some(BTreeMap::from([(
            "zoo.cfg".to_string(),
            zoo_cfg.to_string(),
        )])),
        immutable: Some(true),
        ..Default::default()
    }
}

/// The members ConfigMap: the dynamic config file, `<pod>.myid` per pod and `joined`.
pub fn members_config_map(
    zk: &ZookeeperCluster,
    ctx: &BuildContext,
    ids: &[ServerIdStatus],
) -> ConfigMap {
    let mut data = BTreeMap::from([(DYNAMIC_FILE.to_string(), dynamic_cfg(zk, ctx, ids))]);
    for s in ids {
        data.insert(
            format!("{}.myid", pod_name(zk, s.ordinal)),
            format!("{}\n", s.id),
        );
    }
    let joined: String = ids
        .iter()
        .filter(|s| s.joined)
        .map(|s| format!("{}\n", s.id))
        .collect();
    data.insert(JOINED_KEY.to_string(), joined);
    ConfigMap {
        metadata: meta(zk, members_config_map_name(zk)),
        data: Some(data),
        ..Default::default()
    }
}

fn service_port(name: &str, port: i32) -> ServicePort {
    ServicePort {
        name: Some(name.into()),
        port,
        target_port: Some(IntOrString::String(name.into())),
        protocol: Some("TCP".into()),
        ..Default::default()
    }
}

pub fn headless_service(zk: &ZookeeperCluster) -> Service {
    let p = &zk.spec.ports;
    Service {
        metadata: meta(zk, headless_service_name(zk)),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".into()),
            publish_not_ready_addresses: Some(true),
            selector: Some(selector_labels(zk)),
            ports: Some(vec![
                service_port("client", p.client),
                service_port("quorum", p.quorum),
                service_port("election", p.election),
            ]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn client_service(zk: &ZookeeperCluster) -> Service {
    let p = &zk.spec.ports;
    let mut metadata = meta(zk, client_service_name(zk));
    if !zk.spec.service.annotations.is_empty() {
        metadata
            .annotations
            .get_or_insert_with(Default::default)
            .extend(zk.spec.service.annotations.clone());
    }
    Service {
        metadata,
        spec: Some(ServiceSpec {
            type_: Some(format!("{:?}", zk.spec.service.type_)),
            selector: Some(selector_labels(zk)),
            ports: Some(vec![
                service_port("client", p.client),
                service_port("metrics", p.metrics),
            ]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub fn pdb(zk: &ZookeeperCluster) -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata: meta(zk, pdb_name(zk)),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(zk.spec.pdb.max_unavailable)),
            selector: Some(LabelSelector {
                match_labels: Some(selector_labels(zk)),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn port(name: &str, port: i32) -> ContainerPort {
    ContainerPort {
        name: Some(name.into()),
        container_port: port,
        protocol: Some("TCP".into()),
        ..Default::default()
    }
}

fn policy(p: ReclaimPolicy) -> String {
    match p {
        ReclaimPolicy::Retain => "Retain".into(),
        ReclaimPolicy::Delete => "Delete".into(),
    }
}

/// Liveness probe command: the server's own `ruok` on the client port must answer `imok`.
/// (`ruok` answers whether or not the server is in a quorum, so a minority member is not
/// restarted in a loop.)
pub fn ruok_probe_command(client_port: i32) -> Vec<String> {
    vec![
        "sh".into(),
        "-c".into(),
        format!("[ \"$(echo ruok | nc -w 2 127.0.0.1 {client_port})\" = imok ]"),
    ]
}

/// Readiness probe command: `srvr` must report a `Mode:` (leader, follower, observer or
/// standalone), i.e. the server is serving inside a quorum. A restarted member becomes Ready only
/// once it has rejoined, so a rolling update (which waits for Ready) never takes a second member
/// down while the first one is still catching up.
pub fn srvr_probe_command(client_port: i32) -> Vec<String> {
    vec![
        "sh".into(),
        "-c".into(),
        format!("echo srvr | nc -w 2 127.0.0.1 {client_port} | grep -q '^Mode: '"),
    ]
}

/// `base` with the fields `over` sets replaced (a shallow, field-by-field merge of two
/// Kubernetes objects of the same type).
fn overlay<T: serde::Serialize + serde::de::DeserializeOwned>(base: T, over: Option<&T>) -> T {
    let Some(over) = over else { return base };
    let (Ok(serde_json::Value::Object(mut b)), Ok(serde_json::Value::Object(o))) =
        (serde_json::to_value(&base), serde_json::to_value(over))
    else {
        return base;
    };
    b.extend(o.into_iter().filter(|(_, v)| !v.is_null()));
    serde_json::from_value(serde_json::Value::Object(b)).unwrap_or(base)
}

/// The security context of every container: the Pod Security "restricted" level by default,
/// `podTemplate.containerSecurityContext` merged over it.
pub fn container_security_context(zk: &ZookeeperCluster) -> SecurityContext {
    let restricted = SecurityContext {
        allow_privilege_escalation: Some(false),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            ..Default::default()
        }),
        run_as_non_root: Some(true),
        run_as_user: Some(SERVER_UID),
        run_as_group: Some(SERVER_UID),
        read_only_root_filesystem: Some(true),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let over = zk.spec.pod_template.as_ref();
    overlay(
        restricted,
        over.and_then(|o| o.container_security_context.as_ref()),
    )
}

/// The pod security context: uid/gid/fsGroup 1000 (the data volume is writable), runAsNonRoot,
/// seccomp RuntimeDefault; `podTemplate.securityContext` merged over it.
pub fn pod_security_context(zk: &ZookeeperCluster) -> PodSecurityContext {
    let default = PodSecurityContext {
        run_as_user: Some(SERVER_UID),
        run_as_group: Some(SERVER_UID),
        fs_group: Some(SERVER_UID),
        run_as_non_root: Some(true),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let over = zk.spec.pod_template.as_ref();
    overlay(default, over.and_then(|o| o.security_context.as_ref()))
}

fn requirements(req: [(&str, &str); 2], lim: [(&str, &str); 2]) -> ResourceRequirements {
    let q = |l: [(&str, &str); 2]| {
        l.iter()
            .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
            .collect::<BTreeMap<_, _>>()
    };
    ResourceRequirements {
        requests: Some(q(req)),
        limits: Some(q(lim)),
        ..Default::default()
    }
}

/// The server container's resources: `spec.resources`, else requests and limits for CPU and
/// memory (never BestEffort; accepted by a quota that requires both).
pub fn server_resources(zk: &ZookeeperCluster) -> ResourceRequirements {
    zk.spec.resources.clone().unwrap_or_else(|| {
        requirements(
            [("cpu", "100m"), ("memory", "256Mi")],
            [("cpu", "1"), ("memory", "1Gi")],
        )
    })
}

/// The init container's resources: `spec.initResources`, else small requests and limits.
pub fn init_resources(zk: &ZookeeperCluster) -> ResourceRequirements {
    zk.spec.init_resources.clone().unwrap_or_else(|| {
        requirements(
            [("cpu", "10m"), ("memory", "16Mi")],
            [("cpu", "100m"), ("memory", "64Mi")],
        )
    })
}

/// Shell run by the init container `init-myid` (see the module documentation). Needs `sh`,
/// `cat`, `grep` and `find` (busybox has them).
pub const INIT_MYID_SCRIPT: &str = r#"set -eu
d="$ZK_DATA_DIR"; f="$ZK_MEMBERS_DIR/$HOSTNAME.myid"
if [ ! -s "$f" ]; then echo "no server id is assigned to $HOSTNAME yet" >&2; exit 2; fi
want=$(cat "$f")
have=$(cat "$d/myid" 2>/dev/null || true)
if [ "$have" = "$want" ]; then echo "server id $want"; exit 0; fi
if [ -n "$have" ]; then
  echo "the volume holds the data of retired server $have; this pod is server $want: discarding it" >&2
  find "$d" -mindepth 1 -maxdepth 1 ! -name lost+found -exec rm -rf {} +
elif grep -qx "$want" "$ZK_MEMBERS_DIR/joined" 2>/dev/null; then
  echo "wiped: server $want already joined the ensemble but its volume is empty; refusing to reuse the id (the operator assigns a new one)" >&2
  exit 3
fi
echo "$want" > "$d/myid.tmp" && mv "$d/myid.tmp" "$d/myid"
echo "server id $want""#;

/// The StatefulSet running `replicas` pods (the operator moves it one server at a time towards
/// `spec.replicas`) with the revision whose zoo.cfg is `zoo_cfg`.
pub fn statefulset(zk: &ZookeeperCluster, replicas: i32, zoo_cfg: &str) -> StatefulSet {
    let s = &zk.spec;
    let p = &s.ports;
    let overrides = s.pod_template.clone().unwrap_or_default();
    let image = image_ref(zk);

    let mut pod_labels = overrides.labels.clone();
    pod_labels.extend(labels(zk));
    let mut pod_annotations = overrides.annotations.clone();
    pod_annotations.insert(CONFIG_HASH_ANNOTATION.into(), fnv_hex(zoo_cfg));

    let data_mount = VolumeMount {
        name: "data".into(),
        mount_path: DATA_DIR.into(),
        ..Default::default()
    };
    let members_mount = VolumeMount {
        name: "members".into(),
        mount_path: MEMBERS_DIR.into(),
        read_only: Some(true),
        ..Default::default()
    };
    let mut env = vec![
        EnvVar {
            name: "ZK_DATA_DIR".into(),
            value: Some(DATA_DIR.into()),
            ..Default::default()
        },
        EnvVar {
            name: "ZK_MEMBERS_DIR".into(),
            value: Some(MEMBERS_DIR.into()),
            ..Default::default()
        },
    ];
    let init = Container {
        name: INIT_MYID.into(),
        image: Some(image.clone()),
        image_pull_policy: s.image_pull_policy.map(|p| format!("{p:?}")),
        command: Some(vec!["sh".into(), "-c".into(), INIT_MYID_SCRIPT.into()]),
        env: Some(env.clone()),
        volume_mounts: Some(vec![data_mount.clone(), members_mount.clone()]),
        // The reason of a refusal (exit 3) shows in the pod status.
        termination_message_policy: Some("FallbackToLogsOnError".into()),
        resources: Some(init_resources(zk)),
        security_context: Some(container_security_context(zk)),
        ..Default::default()
    };
    env.extend(overrides.env.iter().cloned());
    let server = Container {
        name: CONTAINER.into(),
        image: Some(image),
        image_pull_policy: s.image_pull_policy.map(|p| format!("{p:?}")),
        command: Some(vec![
            "rzk-server".into(),
            "start-foreground".into(),
            format!("{CONF_DIR}/zoo.cfg"),
        ]),
        env: Some(env),
        ports: Some(vec![
            port("client", p.client),
            port("quorum", p.quorum),
            port("election", p.election),
            port("admin", p.admin),
            port("metrics", p.metrics),
        ]),
        readiness_probe: Some(Probe {
            exec: Some(ExecAction {
                command: Some(srvr_probe_command(p.client)),
            }),
            initial_delay_seconds: Some(1),
            period_seconds: Some(3),
            timeout_seconds: Some(3),
            failure_threshold: Some(2),
            ..Default::default()
        }),
        // Liveness and readiness start once the server answers `ruok` (up to 5 minutes, e.g.
        // loading a large snapshot).
        startup_probe: Some(Probe {
            exec: Some(ExecAction {
                command: Some(ruok_probe_command(p.client)),
            }),
            period_seconds: Some(2),
            timeout_seconds: Some(3),
            failure_threshold: Some(150),
            ..Default::default()
        }),
        liveness_probe: Some(Probe {
            exec: Some(ExecAction {
                command: Some(ruok_probe_command(p.client)),
            }),
            period_seconds: Some(10),
            timeout_seconds: Some(3),
            failure_threshold: Some(6),
            ..Default::default()
        }),
        resources: Some(server_resources(zk)),
        security_context: Some(container_security_context(zk)),
        volume_mounts: Some(vec![
            data_mount,
            VolumeMount {
                name: "tmp".into(),
                mount_path: TMP_DIR.into(),
                ..Default::default()
            },
            VolumeMount {
                name: "config".into(),
                mount_path: CONF_DIR.into(),
                read_only: Some(true),
                ..Default::default()
            },
            members_mount,
        ]),
        ..Default::default()
    };

    let affinity = s.affinity.clone().or_else(|| {
        Some(Affinity {
            pod_anti_affinity: Some(PodAntiAffinity {
                preferred_during_scheduling_ignored_during_execution: Some(vec![
                    WeightedPodAffinityTerm {
                        weight: 100,
                        pod_affinity_term: PodAffinityTerm {
                            topology_key: "kubernetes.io/hostname".into(),
                            label_selector: Some(LabelSelector {
                                match_labels: Some(selector_labels(zk)),
                                ..Default::default()
                            }),
                            ..Default::default()
                        },
                    },
                ]),
                ..Default::default()
            }),
            ..Default::default()
        })
    });
    let spread: Vec<_> = s
        .topology_spread_constraints
        .iter()
        .cloned()
        .map(|mut c| {
            if c.label_selector.is_none() {
                c.label_selector = Some(LabelSelector {
                    match_labels: Some(selector_labels(zk)),
                    ..Default::default()
                });
            }
            c
        })
        .collect();

    let pod_spec = PodSpec {
        init_containers: Some(vec![init]),
        containers: vec![server],
        volumes: Some(vec![
            Volume {
                name: "config".into(),
                config_map: Some(ConfigMapVolumeSource {
                    name: config_map_name(zk, zoo_cfg),
                    ..Default::default()
                }),
                ..Default::default()
            },
            Volume {
                name: "members".into(),
                config_map: Some(ConfigMapVolumeSource {
                    name: members_config_map_name(zk),
                    ..Default::default()
                }),
                ..Default::default()
            },
            Volume {
                name: "tmp".into(),
                empty_dir: Some(EmptyDirVolumeSource {
                    size_limit: Some(Quantity("64Mi".into())),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ]),
        affinity,
        tolerations: (!s.tolerations.is_empty()).then(|| s.tolerations.clone()),
        topology_spread_constraints: (!spread.is_empty()).then_some(spread),
        node_selector: (!overrides.node_selector.is_empty())
            .then(|| overrides.node_selector.clone()),
        priority_class_name: overrides.priority_class_name.clone(),
        service_account_name: overrides.service_account_name.clone(),
        security_context: Some(pod_security_context(zk)),
        // The servers do not talk to the Kubernetes API.
        automount_service_account_token: Some(
            overrides.automount_service_account_token.unwrap_or(false),
        ),
        image_pull_secrets: (!overrides.image_pull_secrets.is_empty())
            .then(|| overrides.image_pull_secrets.clone()),
        termination_grace_period_seconds: Some(
            overrides
                .termination_grace_period_seconds
                .unwrap_or(DEFAULT_TERMINATION_GRACE_SECONDS),
        ),
        ..Default::default()
    };

    let mut requests = BTreeMap::new();
    requests.insert("storage".to_string(), Quantity(s.storage.size.clone()));
    let claim = PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some("data".into()),
            labels: Some(selector_labels(zk)),
            ..Default::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            storage_class_name: s.storage.storage_class_name.clone(),
            resources: Some(VolumeResourceRequirements {
                requests: Some(requests),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };

    let mut template = PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(pod_labels),
            annotations: Some(pod_annotations),
            ..Default::default()
        }),
        spec: Some(pod_spec),
    };
    let hash = template_hash(&template);
    if let Some(a) = template
        .metadata
        .as_mut()
        .and_then(|m| m.annotations.as_mut())
    {
        a.insert(TEMPLATE_HASH_ANNOTATION.into(), hash);
    }

    StatefulSet {
        metadata: meta(zk, statefulset_name(zk)),
        spec: Some(StatefulSetSpec {
            replicas: Some(replicas),
            service_name: Some(headless_service_name(zk)),
            // The servers of a new ensemble start together (a quorum needs a majority up at
            // once); later the operator changes `replicas` one server at a time.
            pod_management_policy: Some("Parallel".into()),
            // The operator restarts pods itself: followers first, the leader last, one at a
            // time, each only once the ensemble is healthy.
            update_strategy: Some(StatefulSetUpdateStrategy {
                type_: Some("OnDelete".into()),
                ..Default::default()
            }),
            selector: LabelSelector {
                match_labels: Some(selector_labels(zk)),
                ..Default::default()
            },
            template,
            volume_claim_templates: Some(vec![claim]),
            persistent_volume_claim_retention_policy: Some(
                StatefulSetPersistentVolumeClaimRetentionPolicy {
                    when_deleted: Some(policy(s.storage.reclaim_policy)),
                    when_scaled: Some(policy(s.storage.scale_down_reclaim_policy)),
                },
            ),
            ..Default::default()
        }),
        ..Default::default()
    }
}
