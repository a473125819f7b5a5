//! Unit tests of the pure builders: spec → owned objects.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::core::ObjectMeta;
use rzk_operator::builders::{self, BuildContext};
use rzk_operator::crd::{
    ReclaimPolicy, ServerIdStatus, ServiceType, ZookeeperCluster, ZookeeperClusterSpec,
};

fn spec_from_yaml(yaml: &str) -> ZookeeperClusterSpec {
    serde_saphyr::from_str(yaml).expect("spec parses")
}

fn cluster(yaml: &str) -> ZookeeperCluster {
    let mut zk = ZookeeperCluster::new("zk", spec_from_yaml(yaml));
    zk.metadata = ObjectMeta {
        name: Some("zk".into()),
        namespace: Some("prod".into()),
        uid: Some("uid-1".into()),
        generation: Some(1),
        ..Default::default()
    };
    zk
}

#[test]
fn defaults_apply_to_an_empty_spec() {
    let s = spec_from_yaml("{}");
    assert_eq!(s.replicas, 3);
    assert_eq!(s.image, "rzk/rzk-server");
    assert_eq!(s.ports.client, 2181);
    assert_eq!(s.ports.quorum, 2888);
    assert_eq!(s.ports.election, 3888);
    assert_eq!(s.storage.size, "1Gi");
    assert_eq!(s.storage.reclaim_policy, ReclaimPolicy::Retain);
    assert_eq!(s.storage.scale_down_reclaim_policy, ReclaimPolicy::Retain);
    assert_eq!(s.service.type_, ServiceType::ClusterIP);
    assert!(s.pdb.enabled);
    assert_eq!(s.pdb.max_unavailable, 1);
}

fn ids(list: &[(i32, i64)]) -> Vec<ServerIdStatus> {
    list.iter()
        .map(|(o, id)| ServerIdStatus {
            ordinal: *o,
            id: *id,
            joined: false,
        })
        .collect()
}

const DIGEST: &str = "super:lK75jTNcA+U9vtVEw5vB51mj/w4=";

/// zoo.cfg + the dynamic file, written to a temp dir with the dynamic path pointing there, parsed
/// by the server's own parser.
fn parse_with_dynamic(cfg: &str, dynamic: &str, tag: &str) -> rzk_config::ServerConfig {
    let dir = std::env::temp_dir().join(format!("rzk-op-cfg-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dyn_path = dir.join(builders::DYNAMIC_FILE);
    std::fs::write(&dyn_path, dynamic).unwrap();
    let cfg = cfg.replace(
        &format!("{}/{}", builders::MEMBERS_DIR, builders::DYNAMIC_FILE),
        dyn_path.to_str().unwrap(),
    );
    let (parsed, _warnings) = rzk_config::parse_str(&cfg, "zoo.cfg").expect("zoo.cfg parses");
    std::fs::remove_dir_all(&dir).unwrap();
    parsed
}

#[test]
fn zoo_cfg_and_dynamic_file_parse_with_the_servers_parser() {
    let zk = cluster("replicas: 3\nconfig:\n  tickTime: \"3000\"\n  maxClientCnxns: \"50\"\n");
    let ctx = BuildContext::default();
    let cfg = builders::zoo_cfg(&zk, DIGEST);
    assert!(
        !cfg.contains("server."),
        "the server list is in the dynamic file: {cfg}"
    );
    assert!(cfg.contains("tickTime=3000\n"), "override wins");
    assert!(!cfg.contains("tickTime=2000"));
    assert!(cfg.contains("4lw.commands.whitelist=*\n"));
    assert!(cfg.contains("dataDir=/data\n"));
    assert!(cfg.contains("reconfigEnabled=true\n"));
    assert!(cfg.contains("standaloneEnabled=false\n"));
    assert!(cfg.contains(&format!(
        "DigestAuthenticationProvider.superDigest={DIGEST}\n"
    )));
    // ids are not ordinals + 1 after replacements
    let dynamic = builders::dynamic_cfg(&zk, &ctx, &ids(&[(0, 1), (1, 7), (2, 3)]));
    assert_eq!(
        dynamic,
        "server.1=zk-0.zk-headless.prod.svc.cluster.local:2888:3888:participant\n\
         server.3=zk-2.zk-headless.prod.svc.cluster.local:2888:3888:participant\n\
         server.7=zk-1.zk-headless.prod.svc.cluster.local:2888:3888:participant\n"
    );
    let parsed = parse_with_dynamic(&cfg, &dynamic, "a");
    assert_eq!(parsed.servers.len(), 3);
    assert_eq!(
        parsed.servers[&7].host,
        "zk-1.zk-headless.prod.svc.cluster.local"
    );
    assert_eq!(parsed.servers[&7].quorum_port, 2888);
    assert_eq!(parsed.client_port, Some(2181));
    assert_eq!(parsed.tick_time, 3000);
    assert_eq!(parsed.max_client_cnxns, 50);
    assert!(parsed.reconfig_enabled);
    assert!(!parsed.standalone_enabled);
    assert_eq!(parsed.super_digest.as_deref(), Some(DIGEST));
    assert!(parsed.four_letter_words.contains("srvr"));
    assert!(parsed.metrics.prometheus_enabled());
    assert_eq!(parsed.metrics.http_port, 7000);
    assert_eq!(parsed.admin.server_port, 8080);
    // a one-server ensemble is still an ensemble (it can grow through reconfig)
    let one = parse_with_dynamic(
        &cfg,
        &builders::dynamic_cfg(&zk, &ctx, &ids(&[(0, 4)])),
        "b",
    );
    assert!(one.is_distributed());
}

#[test]
fn a_restricted_4lw_whitelist_keeps_what_the_operator_needs() {
    let zk = cluster("config: {4lw.commands.whitelist: \"stat, srvr\"}");
    let cfg = builders::zoo_cfg(&zk, DIGEST);
    assert!(
        cfg.contains("4lw.commands.whitelist=stat,srvr,ruok,conf,mntr\n"),
        "{cfg}"
    );
}

#[test]
fn members_config_map_publishes_ids_and_joined() {
    let zk = cluster("replicas: 2");
    let mut list = ids(&[(0, 1), (1, 5)]);
    list[0].joined = true;
    let cm = builders::members_config_map(&zk, &BuildContext::default(), &list);
    assert_eq!(cm.metadata.name.as_deref(), Some("zk-members"));
    let d = cm.data.unwrap();
    assert_eq!(d["zk-0.myid"], "1\n");
    assert_eq!(d["zk-1.myid"], "5\n");
    assert_eq!(d["joined"], "1\n");
    assert!(d[builders::DYNAMIC_FILE].contains("server.5=zk-1."));
}

#[test]
fn cluster_domain_and_ports_are_honoured() {
    let zk = cluster("replicas: 1\nports: {client: 12181, quorum: 12888, election: 13888, admin: 18080, metrics: 17000}\n");
    let ctx = BuildContext {
        cluster_domain: "k8s.example".into(),
    };
    let cfg = builders::zoo_cfg(&zk, DIGEST);
    assert!(cfg.contains("clientPort=12181\n"));
    assert!(builders::dynamic_cfg(&zk, &ctx, &ids(&[(0, 1)]))
        .contains("server.1=zk-0.zk-headless.prod.svc.k8s.example:12888:13888:participant\n"));
    assert!(cfg.contains("admin.serverPort=18080\n"));
    assert!(cfg.contains("metricsProvider.httpPort=17000\n"));
    assert_eq!(
        builders::connect_string(&zk, &ctx),
        "zk.prod.svc.k8s.example:12181"
    );
}

#[test]
fn statefulset_shape() {
    let zk = cluster("replicas: 5\nversion: \"1.2.3\"\nstorage: {size: 5Gi, storageClassName: fast, reclaimPolicy: Delete}\n");
    let cfg = builders::zoo_cfg(&zk, DIGEST);
    let sts = builders::statefulset(&zk, 4, &cfg);
    assert_eq!(sts.metadata.name.as_deref(), Some("zk"));
    assert_eq!(sts.metadata.namespace.as_deref(), Some("prod"));
    let owner = &sts.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str(), owner.uid.as_str()),
        ("ZookeeperCluster", "zk", "uid-1")
    );
    assert_eq!(owner.controller, Some(true));
    let spec = sts.spec.unwrap();
    assert_eq!(
        spec.replicas,
        Some(4),
        "the operator's current step, not spec.replicas"
    );
    assert_eq!(
        spec.update_strategy.as_ref().unwrap().type_.as_deref(),
        Some("OnDelete"),
        "the operator restarts pods itself"
    );
    assert_eq!(spec.service_name.as_deref(), Some("zk-headless"));
    assert_eq!(spec.pod_management_policy.as_deref(), Some("Parallel"));
    let sel = spec.selector.match_labels.unwrap();
    assert_eq!(sel.len(), 2, "selector is minimal and immutable: {sel:?}");
    let tpl = spec.template;
    let meta = tpl.metadata.unwrap();
    for (k, v) in &sel {
        assert_eq!(meta.labels.as_ref().unwrap().get(k), Some(v));
    }
    assert!(meta
        .annotations
        .unwrap()
        .contains_key(builders::CONFIG_HASH_ANNOTATION));
    let pod = tpl.spec.unwrap();
    let c = &pod.containers[0];
    assert_eq!(c.image.as_deref(), Some("rzk/rzk-server:1.2.3"));
    assert_eq!(
        c.command.as_ref().unwrap(),
        &["rzk-server", "start-foreground", "/conf/zoo.cfg"]
    );
    let ports: BTreeMap<_, _> = c
        .ports
        .as_ref()
        .unwrap()
        .iter()
        .map(|p| (p.name.clone().unwrap(), p.container_port))
        .collect();
    assert_eq!(ports["client"], 2181);
    assert_eq!(ports["quorum"], 2888);
    assert_eq!(ports["election"], 3888);
    let exec_cmd = |p: &Option<k8s_openapi::api::core::v1::Probe>| {
        p.as_ref()
            .unwrap()
            .exec
            .as_ref()
            .unwrap()
            .command
            .clone()
            .unwrap()
    };
    let ready = exec_cmd(&c.readiness_probe);
    assert!(ready[2].contains("srvr") && ready[2].contains("Mode: ") && ready[2].contains("2181"));
    let live = exec_cmd(&c.liveness_probe);
    assert!(live[2].contains("ruok") && live[2].contains("imok") && live[2].contains("2181"));
    let init = &pod.init_containers.as_ref().unwrap()[0];
    assert_eq!(init.name, builders::INIT_MYID);
    assert!(init.command.as_ref().unwrap()[2].contains("myid"));
    let vols: Vec<_> = pod
        .volumes
        .as_ref()
        .unwrap()
        .iter()
        .filter_map(|v| v.config_map.as_ref().map(|c| c.name.clone()))
        .collect();
    assert_eq!(
        vols,
        [
            builders::config_map_name(&zk, &cfg),
            "zk-members".to_string()
        ]
    );
    assert!(vols[0].starts_with("zk-config-") && vols[0].len() == "zk-config-".len() + 10);
    assert!(
        pod.affinity.unwrap().pod_anti_affinity.is_some(),
        "default anti-affinity"
    );
    let claim = &spec.volume_claim_templates.unwrap()[0];
    let cs = claim.spec.as_ref().unwrap();
    assert_eq!(cs.storage_class_name.as_deref(), Some("fast"));
    assert_eq!(
        cs.resources.as_ref().unwrap().requests.as_ref().unwrap()["storage"].0,
        "5Gi"
    );
    let ret = spec.persistent_volume_claim_retention_policy.unwrap();
    assert_eq!(ret.when_deleted.as_deref(), Some("Delete"));
    assert_eq!(ret.when_scaled.as_deref(), Some("Retain"));
}

/// Run the exact init script with a fake hostname, data dir and members dir.
fn run_init(
    tag: &str,
    myid_before: Option<&str>,
    data_files: bool,
    assigned: &str,
    joined: &str,
) -> (i32, Option<String>, bool) {
    let base = std::env::temp_dir().join(format!("rzk-op-init-{}-{tag}", std::process::id()));
    let data = base.join("data");
    let members = base.join("members");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::create_dir_all(&members).unwrap();
    if let Some(m) = myid_before {
        std::fs::write(data.join("myid"), m).unwrap();
    }
    if data_files {
        std::fs::create_dir_all(data.join("rzk/log")).unwrap();
        std::fs::write(data.join("rzk/log/seg"), "x").unwrap();
    }
    if !assigned.is_empty() {
        std::fs::write(members.join("zk-4.myid"), assigned).unwrap();
    }
    std::fs::write(members.join("joined"), joined).unwrap();
    let st = std::process::Command::new("sh")
        .args(["-c", builders::INIT_MYID_SCRIPT])
        .env("HOSTNAME", "zk-4")
        .env("ZK_DATA_DIR", &data)
        .env("ZK_MEMBERS_DIR", &members)
        .output()
        .unwrap();
    let myid = std::fs::read_to_string(data.join("myid"))
        .ok()
        .map(|s| s.trim().to_string());
    let kept = data.join("rzk/log/seg").exists();
    std::fs::remove_dir_all(&base).unwrap();
    (st.status.code().unwrap_or(-1), myid, kept)
}

#[test]
fn init_script_cases() {
    // a new pod: writes the assigned id
    assert_eq!(
        run_init("new", None, false, "9\n", ""),
        (0, Some("9".into()), false)
    );
    // a restart: same id, data kept
    assert_eq!(
        run_init("same", Some("9\n"), true, "9\n", "9\n"),
        (0, Some("9".into()), true)
    );
    // a volume of a retired id (scaled away, now back under a new id): data discarded
    assert_eq!(
        run_init("retired", Some("4"), true, "9\n", "1\n4\n"),
        (0, Some("9".into()), false)
    );
    // an empty volume under an id that already joined: refuse (exit 3), write nothing
    assert_eq!(
        run_init("wiped", None, false, "9\n", "1\n9\n"),
        (builders::INIT_EXIT_WIPED, None, false)
    );
    // no id assigned yet
    assert_eq!(run_init("none", None, false, "", "").0, 2);
}

#[test]
fn config_change_changes_the_pod_template_hash_but_scaling_does_not() {
    let hash = |zk: &ZookeeperCluster, replicas: i32| {
        builders::statefulset(zk, replicas, &builders::zoo_cfg(zk, DIGEST))
            .spec
            .unwrap()
            .template
            .metadata
            .unwrap()
            .annotations
            .unwrap()[builders::CONFIG_HASH_ANNOTATION]
            .clone()
    };
    let a = cluster("replicas: 3");
    let b = cluster("replicas: 5");
    let c = cluster("replicas: 3\nconfig: {maxClientCnxns: \"7\"}");
    assert_eq!(
        hash(&a, 3),
        hash(&cluster("replicas: 3"), 3),
        "deterministic"
    );
    assert_eq!(
        hash(&a, 3),
        hash(&b, 4),
        "the server list is not part of a revision"
    );
    assert_ne!(hash(&a, 3), hash(&c, 3));
}

#[test]
fn image_with_tag_or_digest_is_kept() {
    assert_eq!(
        builders::image_ref(&cluster("image: reg.local:5000/rzk")),
        "reg.local:5000/rzk:0.1.0"
    );
    assert_eq!(
        builders::image_ref(&cluster("image: reg.local:5000/rzk:dev")),
        "reg.local:5000/rzk:dev"
    );
    assert_eq!(
        builders::image_ref(&cluster("image: rzk@sha256:abc")),
        "rzk@sha256:abc"
    );
}

#[test]
fn services_and_pdb() {
    let zk =
        cluster("service: {type: LoadBalancer, annotations: {a: b}}\npdb: {maxUnavailable: 1}");
    let h = builders::headless_service(&zk);
    let hs = h.spec.unwrap();
    assert_eq!(h.metadata.name.as_deref(), Some("zk-headless"));
    assert_eq!(hs.cluster_ip.as_deref(), Some("None"));
    assert_eq!(hs.publish_not_ready_addresses, Some(true));
    let c = builders::client_service(&zk);
    assert_eq!(c.metadata.name.as_deref(), Some("zk"));
    assert_eq!(c.metadata.annotations.unwrap()["a"], "b");
    let cs = c.spec.unwrap();
    assert_eq!(cs.type_.as_deref(), Some("LoadBalancer"));
    assert_eq!(cs.ports.unwrap()[0].port, 2181);
    let p = builders::pdb(&zk);
    assert_eq!(p.spec.unwrap().max_unavailable, Some(IntOrString::Int(1)));
}

#[test]
fn pod_template_overrides_and_spread_defaults() {
    let zk = cluster(
        "podTemplate:\n  labels: {team: a, app.kubernetes.io/name: hijack}\n  nodeSelector: {disk: ssd}\n  priorityClassName: high\n\
         topologySpreadConstraints:\n- maxSkew: 1\n  topologyKey: zone\n  whenUnsatisfiable: DoNotSchedule\n\
         tolerations:\n- key: dedicated\n  operator: Equal\n  value: zk\n  effect: NoSchedule\n",
    );
    let spec = builders::statefulset(&zk, 3, &builders::zoo_cfg(&zk, DIGEST))
        .spec
        .unwrap();
    let labels = spec.template.metadata.unwrap().labels.unwrap();
    assert_eq!(labels["team"], "a");
    assert_eq!(
        labels["app.kubernetes.io/name"], "rzk",
        "selector labels win"
    );
    let pod = spec.template.spec.unwrap();
    assert_eq!(pod.node_selector.unwrap()["disk"], "ssd");
    assert_eq!(pod.priority_class_name.as_deref(), Some("high"));
    assert_eq!(
        pod.tolerations.unwrap()[0].key.as_deref(),
        Some("dedicated")
    );
    let tsc = &pod.topology_spread_constraints.unwrap()[0];
    assert_eq!(
        tsc.label_selector
            .as_ref()
            .unwrap()
            .match_labels
            .as_ref()
            .unwrap()["app.kubernetes.io/instance"],
        "zk"
    );
}

#[test]
fn ordinals_from_pod_names() {
    let zk = cluster("{}");
    assert_eq!(builders::ordinal_of_pod(&zk, "zk-0"), Some(0));
    assert_eq!(builders::ordinal_of_pod(&zk, "zk-12"), Some(12));
    assert_eq!(builders::ordinal_of_pod(&zk, "zk"), None);
    assert_eq!(builders::ordinal_of_pod(&zk, "other-1"), None);
    assert_eq!(builders::pod_name(&zk, 3), "zk-3");
}
