//! The deployment files in `deploy/` (issue 18): the Helm chart `deploy/helm/peregrine`,
//! its seed values, the ArgoCD Application and the systemd unit.
//!
//! - `helm lint --strict` and `helm template` with the default values and with
//!   `values-seed.yaml`; `kubernetes-validate --strict` on every rendered object of a core
//!   kind, for the oldest Kubernetes the chart supports and a current one. The Prometheus
//!   Operator's kinds (ServiceMonitor, PrometheusRule: [`CRD_KINDS`]) are not in its
//!   schemas: they are taken out by that explicit list and checked field by field below,
//!   and any other kind it does not know fails the test.
//! - `yamllint` (deploy/.yamllint) on the values files and the deploy YAMLs, and on the
//!   rendered manifests.
//! - The rendered objects: the least-privilege default, the seed's privileged mode,
//!   tolerations, update strategy, mounts, probes, ServiceMonitor, NetworkPolicy, the
//!   dashboard and alerting rules, and that the agent itself accepts the config and rules
//!   the chart renders (`peregrine validate -c FILE -r DIR`).
//! - The chart's copies of the dashboard, the alerting rules and the default rules equal
//!   their sources.
//!
//! helm, kubernetes-validate and yamllint come from `.ci/helm-setup.sh`; without them the
//! tests that need them skip, printing why (a panic under PEREGRINE_REQUIRE_PRIVILEGED=1).

use saphyr::{LoadableYamlNode, Yaml};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Kinds that kubernetes-validate has no schema for (the Prometheus Operator's CRDs).
const CRD_KINDS: &[&str] = &["ServiceMonitor", "PrometheusRule"];

/// The chart's `kubeVersion` floor and a current release.
const KUBE_VERSIONS: &[&str] = &["1.25.0", "1.37.0"];

const SEED_VALUES: &str = "values-seed.yaml";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn deploy() -> PathBuf {
    repo().join("deploy")
}

fn chart() -> PathBuf {
    deploy().join("helm/peregrine")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// True (after printing why) when `why` is set; panics instead under
/// `PEREGRINE_REQUIRE_PRIVILEGED=1`.
fn skip_because(test: &str, why: Option<String>) -> bool {
    let Some(why) = why else { return false };
    if std::env::var("PEREGRINE_REQUIRE_PRIVILEGED").as_deref() == Ok("1") {
        panic!("{test}: {why} and PEREGRINE_REQUIRE_PRIVILEGED=1");
    }
    eprintln!("skipping {test}: {why}");
    true
}

fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Skips `test` unless helm, kubernetes-validate and yamllint are installed.
fn skip_without_tools(test: &str) -> bool {
    let missing: Vec<&str> = [
        ("helm", &["version", "--short"][..]),
        ("kubernetes-validate", &["--version"][..]),
        ("yamllint", &["--version"][..]),
    ]
    .into_iter()
    .filter(|(p, args)| !runs(p, args))
    .map(|(p, _)| p)
    .collect();
    skip_because(
        test,
        (!missing.is_empty()).then(|| {
            format!(
                "needs {} (run .ci/helm-setup.sh as root)",
                missing.join(", ")
            )
        }),
    )
}

fn output(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"))
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `helm template` of the chart as release `peregrine` in namespace `peregrine`, with extra
/// arguments (`-f values-seed.yaml`, `--set k=v`); `Err` with helm's message if it fails.
fn try_render(args: &[&str]) -> Result<String, String> {
    let out = output(
        Command::new("helm")
            .args(["template", "peregrine", "."])
            .args(["--namespace", "peregrine"])
            .args(args)
            .current_dir(chart()),
    );
    if out.status.success() {
        Ok(String::from_utf8(out.stdout).expect("helm's output is UTF-8"))
    } else {
        Err(text(&out))
    }
}

fn render(args: &[&str]) -> String {
    try_render(args).unwrap_or_else(|e| panic!("helm template {args:?}: {e}"))
}

fn seed() -> [&'static str; 2] {
    ["-f", SEED_VALUES]
}

// ---------------------------------------------------------------------------------------
// YAML as serde_json values.

fn scalar(text: &str) -> Value {
    match text {
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        _ => {}
    }
    if let Ok(i) = text.parse::<i64>() {
        return Value::from(i);
    }
    Value::String(text.to_string())
}

fn convert(y: &Yaml<'_>) -> Value {
    match y {
        Yaml::Representation(text, style, _) => {
            if *style == saphyr::ScalarStyle::Plain {
                scalar(text)
            } else {
                Value::String(text.to_string())
            }
        }
        Yaml::Value(s) => match s {
            saphyr::Scalar::Null => Value::Null,
            saphyr::Scalar::Boolean(b) => Value::Bool(*b),
            saphyr::Scalar::Integer(i) => Value::from(*i),
            saphyr::Scalar::FloatingPoint(f) => Value::from(f.into_inner()),
            saphyr::Scalar::String(s) => Value::String(s.to_string()),
        },
        Yaml::Sequence(items) => Value::Array(items.iter().map(convert).collect()),
        Yaml::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = match convert(k) {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                out.insert(key, convert(v));
            }
            Value::Object(out)
        }
        Yaml::Tagged(_, inner) => convert(inner),
        Yaml::Alias(_) | Yaml::BadValue => panic!("unsupported YAML node {y:?}"),
    }
}

/// Every document of `source` (empty ones left out).
fn yaml_docs(source: &str, name: &str) -> Vec<Value> {
    Yaml::load_from_str(source)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .iter()
        .map(convert)
        .filter(|v| !v.is_null())
        .collect()
}

fn yaml_doc(source: &str, name: &str) -> Value {
    let mut docs = yaml_docs(source, name);
    assert_eq!(docs.len(), 1, "{name}: one YAML document");
    docs.remove(0)
}

/// The rendered objects.
struct Manifests(Vec<Value>);

impl Manifests {
    fn parse(rendered: &str) -> Manifests {
        Manifests(yaml_docs(rendered, "helm template's output"))
    }

    fn find(&self, kind: &str, name: &str) -> Option<&Value> {
        self.0
            .iter()
            .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
    }

    fn get(&self, kind: &str, name: &str) -> &Value {
        self.find(kind, name)
            .unwrap_or_else(|| panic!("no {kind} {name} among {:?}", self.kinds()))
    }

    fn kinds(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|d| format!("{}/{}", d["kind"], d["metadata"]["name"]))
            .collect()
    }

    fn daemonset(&self) -> &Value {
        self.get("DaemonSet", "peregrine")
    }

    fn container(&self) -> &Value {
        &self.daemonset()["spec"]["template"]["spec"]["containers"][0]
    }

    /// The agent's config file, parsed.
    fn config(&self) -> Value {
        let cm = self.get("ConfigMap", "peregrine-config");
        let text = cm["data"]["peregrine.yaml"]
            .as_str()
            .expect("ConfigMap peregrine-config has peregrine.yaml");
        yaml_doc(text, "the rendered peregrine.yaml")
    }

    fn config_text(&self) -> String {
        self.get("ConfigMap", "peregrine-config")["data"]["peregrine.yaml"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Rules file name -> text.
    fn rules(&self) -> Vec<(String, String)> {
        let data = &self.get("ConfigMap", "peregrine-rules")["data"];
        data.as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

// ---------------------------------------------------------------------------------------
// Checks shared by the tests, each returning its problems (empty: fine), so that the tests
// can show they catch a bad rendering too.

fn expect(problems: &mut Vec<String>, what: &str, got: &Value, want: Value) {
    if *got != want {
        problems.push(format!("{what}: expected {want}, got {got}"));
    }
}

/// What every rendering must have: the DaemonSet's scheduling, rollout, mounts, probes and
/// labels, the Service, the config's web server.
fn common_problems(m: &Manifests) -> Vec<String> {
    let mut p = Vec::new();
    let ds = m.daemonset();
    let pod = &ds["spec"]["template"]["spec"];
    let c = m.container();
    expect(
        &mut p,
        "tolerations",
        &pod["tolerations"],
        json!([{"operator": "Exists"}]),
    );
    expect(&mut p, "hostPID", &pod["hostPID"], json!(true));
    expect(
        &mut p,
        "updateStrategy.type",
        &ds["spec"]["updateStrategy"]["type"],
        json!("RollingUpdate"),
    );
    for (what, labels) in [
        ("DaemonSet labels", &ds["metadata"]["labels"]),
        ("pod labels", &ds["spec"]["template"]["metadata"]["labels"]),
    ] {
        expect(
            &mut p,
            what,
            &labels["app.kubernetes.io/name"],
            json!("peregrine"),
        );
        expect(
            &mut p,
            what,
            &labels["app.kubernetes.io/instance"],
            json!("peregrine"),
        );
    }
    expect(
        &mut p,
        "command",
        &c["command"],
        json!(["/usr/bin/peregrine"]),
    );
    expect(
        &mut p,
        "args",
        &c["args"],
        json!(["-c", "/etc/peregrine/peregrine.yaml"]),
    );
    expect(
        &mut p,
        "imagePullPolicy",
        &c["imagePullPolicy"],
        json!("IfNotPresent"),
    );
    let env = |name: &str| -> Value {
        c["env"]
            .as_array()
            .and_then(|e| e.iter().find(|v| v["name"] == name))
            .cloned()
            .unwrap_or(Value::Null)
    };
    expect(
        &mut p,
        "env HOST_ROOT",
        &env("HOST_ROOT")["value"],
        json!("/host"),
    );
    expect(
        &mut p,
        "env FALCO_HOSTNAME",
        &env("FALCO_HOSTNAME")["valueFrom"]["fieldRef"]["fieldPath"],
        json!("spec.nodeName"),
    );
    expect(
        &mut p,
        "container port",
        &c["ports"],
        json!([{"name": "metrics", "containerPort": 8765, "protocol": "TCP"}]),
    );
    for probe in ["livenessProbe", "readinessProbe"] {
        expect(
            &mut p,
            probe,
            &c[probe]["httpGet"]["path"],
            json!("/healthz"),
        );
        expect(
            &mut p,
            probe,
            &c[probe]["httpGet"]["port"],
            json!("metrics"),
        );
    }
    // Host paths, read-only, under /host (the BTF folder where it is).
    let volumes = pod["volumes"].as_array().cloned().unwrap_or_default();
    let mounts = c["volumeMounts"].as_array().cloned().unwrap_or_default();
    for (host, at) in [
        ("/proc", "/host/proc"),
        ("/etc", "/host/etc"),
        ("/sys/kernel/btf", "/sys/kernel/btf"),
        (
            "/run/containerd/containerd.sock",
            "/host/run/containerd/containerd.sock",
        ),
        ("/var/run/docker.sock", "/host/var/run/docker.sock"),
        ("/run/crio/crio.sock", "/host/run/crio/crio.sock"),
        ("/run/podman/podman.sock", "/host/run/podman/podman.sock"),
    ] {
        let Some(mount) = mounts.iter().find(|v| v["mountPath"] == at) else {
            p.push(format!("nothing mounted at {at}"));
            continue;
        };
        expect(
            &mut p,
            &format!("{at} readOnly"),
            &mount["readOnly"],
            json!(true),
        );
        let volume = volumes.iter().find(|v| v["name"] == mount["name"]);
        expect(
            &mut p,
            &format!("host path mounted at {at}"),
            volume.map_or(&Value::Null, |v| &v["hostPath"]["path"]),
            json!(host),
        );
    }
    for mount in &mounts {
        if mount["readOnly"] != true {
            p.push(format!("mount {} is writable", mount["mountPath"]));
        }
    }
    // The config and every rules file, each a subPath of its ConfigMap.
    let config_mount = mounts
        .iter()
        .find(|v| v["mountPath"] == "/etc/peregrine/peregrine.yaml");
    expect(
        &mut p,
        "config mount subPath",
        config_mount.map_or(&Value::Null, |v| &v["subPath"]),
        json!("peregrine.yaml"),
    );
    let rules = m.rules();
    if rules.is_empty() {
        p.push("no rules file".into());
    }
    for (name, _) in &rules {
        let at = format!("/etc/peregrine/rules.d/{name}");
        if !mounts
            .iter()
            .any(|v| v["mountPath"] == at.as_str() && v["subPath"] == name.as_str())
        {
            p.push(format!("rules file {name} is not mounted at {at}"));
        }
    }
    // The agent's web server answers the probes from the pod's address.
    let cfg = m.config();
    expect(
        &mut p,
        "config webserver.enabled",
        &cfg["webserver"]["enabled"],
        json!(true),
    );
    expect(
        &mut p,
        "config webserver.listen_address",
        &cfg["webserver"]["listen_address"],
        json!("0.0.0.0"),
    );
    expect(
        &mut p,
        "config webserver.listen_port",
        &cfg["webserver"]["listen_port"],
        json!(8765),
    );
    expect(
        &mut p,
        "config rules_files",
        &cfg["rules_files"],
        json!(["/etc/peregrine/rules.d"]),
    );
    expect(
        &mut p,
        "config engine.kind",
        &cfg["engine"]["kind"],
        json!("modern_ebpf"),
    );
    expect(
        &mut p,
        "config containers.cri_sockets",
        &cfg["containers"]["cri_sockets"],
        json!(["/run/containerd/containerd.sock", "/run/crio/crio.sock"]),
    );
    expect(
        &mut p,
        "config containers.docker_sockets",
        &cfg["containers"]["docker_sockets"],
        json!(["/var/run/docker.sock", "/run/podman/podman.sock"]),
    );
    // The Service selects the pods, on the web server's port.
    let svc = m.get("Service", "peregrine");
    let pod_labels = &ds["spec"]["template"]["metadata"]["labels"];
    for (k, v) in svc["spec"]["selector"]
        .as_object()
        .cloned()
        .unwrap_or_default()
    {
        expect(
            &mut p,
            &format!("pod label {k} (Service selector)"),
            &pod_labels[&k],
            v,
        );
    }
    expect(
        &mut p,
        "Service ports",
        &svc["spec"]["ports"],
        json!([{"name": "metrics", "port": 8765, "targetPort": "metrics", "protocol": "TCP"}]),
    );
    // The ServiceAccount the pods use exists.
    let sa = pod["serviceAccountName"].as_str().unwrap_or("");
    if m.find("ServiceAccount", sa).is_none() {
        p.push(format!("ServiceAccount {sa:?} is not rendered"));
    }
    p
}

/// The default values' least-privilege container.
fn least_privilege_problems(m: &Manifests) -> Vec<String> {
    let mut p = Vec::new();
    let pod = &m.daemonset()["spec"]["template"]["spec"];
    let sc = &m.container()["securityContext"];
    expect(&mut p, "privileged", &sc["privileged"], json!(false));
    expect(&mut p, "runAsUser", &sc["runAsUser"], json!(0));
    expect(
        &mut p,
        "allowPrivilegeEscalation",
        &sc["allowPrivilegeEscalation"],
        json!(false),
    );
    expect(
        &mut p,
        "readOnlyRootFilesystem",
        &sc["readOnlyRootFilesystem"],
        json!(true),
    );
    expect(
        &mut p,
        "capabilities.drop",
        &sc["capabilities"]["drop"],
        json!(["ALL"]),
    );
    expect(
        &mut p,
        "capabilities.add",
        &sc["capabilities"]["add"],
        json!(["BPF", "PERFMON", "SYS_PTRACE", "DAC_READ_SEARCH"]),
    );
    expect(
        &mut p,
        "seccompProfile",
        &sc["seccompProfile"],
        json!({"type": "RuntimeDefault"}),
    );
    expect(&mut p, "hostNetwork", &pod["hostNetwork"], json!(false));
    expect(
        &mut p,
        "automountServiceAccountToken",
        &pod["automountServiceAccountToken"],
        json!(false),
    );
    p
}

/// values-seed.yaml: the seed's privileged pod, its outputs, monitoring and NetworkPolicy.
fn seed_problems(m: &Manifests) -> Vec<String> {
    let mut p = Vec::new();
    let ds = m.daemonset();
    let pod = &ds["spec"]["template"]["spec"];
    let c = m.container();
    expect(
        &mut p,
        "privileged",
        &c["securityContext"]["privileged"],
        json!(true),
    );
    expect(&mut p, "hostNetwork", &pod["hostNetwork"], json!(true));
    expect(
        &mut p,
        "dnsPolicy",
        &pod["dnsPolicy"],
        json!("ClusterFirstWithHostNet"),
    );

    // The seed's Falco settings and Falcosidekick's destinations.
    let cfg = m.config();
    for (key, want) in [
        ("json_output", json!(true)),
        ("json_include_output_property", json!(true)),
        ("log_stderr", json!(true)),
        ("log_syslog", json!(false)),
        ("log_level", json!("info")),
        ("buffered_outputs", json!(true)),
    ] {
        expect(&mut p, &format!("config {key}"), &cfg[key], want);
    }
    expect(
        &mut p,
        "config outputs.loki",
        &cfg["outputs"]["loki"],
        json!({"hostport": "http://loki.loki.svc.cluster.local:3100", "minimumpriority": "", "format": "json"}),
    );
    expect(
        &mut p,
        "config outputs.slack.minimumpriority",
        &cfg["outputs"]["slack"]["minimumpriority"],
        json!("warning"),
    );
    expect(
        &mut p,
        "config outputs.slack.webhookurl",
        &cfg["outputs"]["slack"]["webhookurl"],
        json!("${SLACK_WEBHOOK_URL}"),
    );
    let slack_env = c["env"]
        .as_array()
        .and_then(|e| e.iter().find(|v| v["name"] == "SLACK_WEBHOOK_URL"));
    expect(
        &mut p,
        "env SLACK_WEBHOOK_URL",
        slack_env.map_or(&Value::Null, |v| &v["valueFrom"]["secretKeyRef"]),
        json!({"name": "peregrine-slack", "key": "webhookurl"}),
    );
    expect(
        &mut p,
        "config metrics.enabled",
        &cfg["metrics"]["enabled"],
        json!(true),
    );
    expect(
        &mut p,
        "config webserver.prometheus_metrics_enabled",
        &cfg["webserver"]["prometheus_metrics_enabled"],
        json!(true),
    );

    // The ServiceMonitor: picked up by the release "prometheus", every 30 s, the node name.
    match m.find("ServiceMonitor", "peregrine") {
        None => p.push("no ServiceMonitor".into()),
        Some(sm) => {
            expect(
                &mut p,
                "ServiceMonitor label release",
                &sm["metadata"]["labels"]["release"],
                json!("prometheus"),
            );
            let ep = &sm["spec"]["endpoints"][0];
            expect(
                &mut p,
                "ServiceMonitor interval",
                &ep["interval"],
                json!("30s"),
            );
            expect(&mut p, "ServiceMonitor port", &ep["port"], json!("metrics"));
            expect(
                &mut p,
                "ServiceMonitor path",
                &ep["path"],
                json!("/metrics"),
            );
            let node = json!({
                "sourceLabels": ["__meta_kubernetes_pod_node_name"],
                "targetLabel": "node",
                "action": "replace",
            });
            if !ep["relabelings"]
                .as_array()
                .is_some_and(|r| r.contains(&node))
            {
                p.push(format!(
                    "ServiceMonitor relabelings lack {node}: {}",
                    ep["relabelings"]
                ));
            }
            let svc_labels = &m.get("Service", "peregrine")["metadata"]["labels"];
            for (k, v) in sm["spec"]["selector"]["matchLabels"]
                .as_object()
                .cloned()
                .unwrap_or_default()
            {
                expect(
                    &mut p,
                    &format!("Service label {k} (ServiceMonitor selector)"),
                    &svc_labels[&k],
                    v,
                );
            }
            expect(
                &mut p,
                "ServiceMonitor namespaceSelector",
                &sm["spec"]["namespaceSelector"],
                json!({"matchNames": ["peregrine"]}),
            );
        }
    }

    // The NetworkPolicy: egress to Loki on TCP 3100 and to the cluster DNS, nothing else.
    match m.find("NetworkPolicy", "peregrine") {
        None => p.push("no NetworkPolicy".into()),
        Some(np) => {
            let pod_labels = &ds["spec"]["template"]["metadata"]["labels"];
            for (k, v) in np["spec"]["podSelector"]["matchLabels"]
                .as_object()
                .cloned()
                .unwrap_or_default()
            {
                expect(
                    &mut p,
                    &format!("pod label {k} (NetworkPolicy podSelector)"),
                    &pod_labels[&k],
                    v,
                );
            }
            if !np["spec"]["policyTypes"]
                .as_array()
                .is_some_and(|t| t.contains(&json!("Egress")))
            {
                p.push(format!(
                    "NetworkPolicy policyTypes lack Egress: {}",
                    np["spec"]["policyTypes"]
                ));
            }
            expect(
                &mut p,
                "NetworkPolicy egress",
                &np["spec"]["egress"],
                json!([
                    {
                        "to": [{"namespaceSelector": {"matchLabels": {"name": "loki"}}}],
                        "ports": [{"protocol": "TCP", "port": 3100}],
                    },
                    {
                        "to": [{
                            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                        }],
                        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                    },
                ]),
            );
        }
    }

    // The dashboard for Grafana's sidecar, and the alerting rules: those of deploy/.
    match m.find("ConfigMap", "peregrine-dashboard") {
        None => p.push("no dashboard ConfigMap".into()),
        Some(cm) => {
            expect(
                &mut p,
                "dashboard label grafana_dashboard",
                &cm["metadata"]["labels"]["grafana_dashboard"],
                json!("1"),
            );
            let want: Value =
                serde_json::from_str(&read(&deploy().join("grafana/peregrine.json"))).unwrap();
            let got: Value = cm["data"]["peregrine.json"]
                .as_str()
                .and_then(|t| serde_json::from_str(t).ok())
                .unwrap_or(Value::Null);
            if got != want {
                p.push("the dashboard ConfigMap differs from deploy/grafana/peregrine.json".into());
            }
        }
    }
    match m.find("PrometheusRule", "peregrine") {
        None => p.push("no PrometheusRule".into()),
        Some(pr) => {
            let path = deploy().join("prometheus/peregrine-rules.yaml");
            let want = yaml_doc(&read(&path), "peregrine-rules.yaml");
            expect(
                &mut p,
                "PrometheusRule groups",
                &pr["spec"]["groups"],
                want["groups"].clone(),
            );
            expect(
                &mut p,
                "PrometheusRule label release",
                &pr["metadata"]["labels"]["release"],
                json!("prometheus"),
            );
        }
    }
    p
}

fn assert_no_problems(what: &str, problems: Vec<String>) {
    assert!(problems.is_empty(), "{what}:\n  {}", problems.join("\n  "));
}

// ---------------------------------------------------------------------------------------
// The tests.

#[test]
fn chart_copies_match_their_sources() {
    for (copy, source) in [
        (
            "deploy/helm/peregrine/dashboards/peregrine.json",
            "deploy/grafana/peregrine.json",
        ),
        (
            "deploy/helm/peregrine/files/peregrine-rules.yaml",
            "deploy/prometheus/peregrine-rules.yaml",
        ),
        (
            "deploy/helm/peregrine/files/default_rules.yaml",
            "config/defaults/default_rules.yaml",
        ),
    ] {
        assert!(
            read(&repo().join(copy)) == read(&repo().join(source)),
            "{copy} differs from {source} (Helm reads only files inside the chart): \
             cp {source} {copy}"
        );
    }
    // appVersion is the workspace's version.
    let chart_yaml = yaml_doc(&read(&chart().join("Chart.yaml")), "Chart.yaml");
    assert_eq!(chart_yaml["apiVersion"], "v2");
    assert_eq!(chart_yaml["name"], "peregrine");
    assert_eq!(chart_yaml["appVersion"], env!("CARGO_PKG_VERSION"));
    // values-seed.yaml carries the seed's rules as they are.
    let seed_rules = repo().join("../shared/testdata/seed_rules.yaml");
    let why = (!seed_rules.is_file()).then(|| format!("needs {}", seed_rules.display()));
    if skip_because("chart_copies_match_their_sources (seed rules)", why) {
        return;
    }
    let values = yaml_doc(&read(&chart().join(SEED_VALUES)), SEED_VALUES);
    let want: String = read(&seed_rules)
        .lines()
        .skip_while(|l| l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(
        values["customRules"]["seed_rules.yaml"]
            .as_str()
            .map(str::trim),
        Some(want.trim()),
        "values-seed.yaml's customRules differ from the seed's rules"
    );
}

#[test]
fn chart_lints_and_renders_valid_manifests() {
    if skip_without_tools("chart_lints_and_renders_valid_manifests") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("peregrine-helm-lint-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let yamllint_config = deploy().join(".yamllint");

    for (name, args) in [("default", &[][..]), ("seed", &seed()[..])] {
        let lint = output(
            Command::new("helm")
                .args(["lint", "--strict", "."])
                .args(args)
                .current_dir(chart()),
        );
        assert!(
            lint.status.success(),
            "helm lint --strict ({name}):\n{}",
            text(&lint)
        );

        let rendered = render(args);
        let rendered_file = dir.join(format!("{name}.yaml"));
        std::fs::write(&rendered_file, &rendered).unwrap();

        // Core kinds against Kubernetes' schemas, strictly (unknown fields are errors): the
        // rendered documents as they are, but for the CRDs' objects.
        let mut core = Vec::new();
        let mut kinds = Vec::new();
        for chunk in format!("\n{rendered}").split("\n---\n") {
            let Some(doc) = yaml_docs(chunk, "a rendered document").pop() else {
                continue;
            };
            let kind = doc["kind"].as_str().unwrap_or("").to_string();
            if !CRD_KINDS.contains(&kind.as_str()) {
                core.push(chunk.to_string());
            }
            kinds.push(kind);
        }
        assert!(
            kinds.iter().any(|k| k == "DaemonSet"),
            "{name}: no DaemonSet in {kinds:?}"
        );
        let core_file = dir.join(format!("{name}-core.yaml"));
        std::fs::write(&core_file, core.join("\n---\n")).unwrap();
        for version in KUBE_VERSIONS {
            let out = output(
                Command::new("kubernetes-validate")
                    .args(["--strict", "-k", version])
                    .arg(&core_file),
            );
            let said = text(&out);
            assert!(
                out.status.success(),
                "kubernetes-validate --strict -k {version} ({name}):\n{said}"
            );
            assert!(
                !said.contains("Couldn't find schema"),
                "kubernetes-validate ({name}, {version}) has no schema for a kind not in \
                 CRD_KINDS:\n{said}"
            );
            let passed = said.matches("passed for resource").count();
            assert_eq!(
                passed,
                core.len(),
                "kubernetes-validate ({name}, {version}):\n{said}"
            );
        }

        // The rendered manifests are clean YAML (long lines allowed: the dashboard's JSON
        // and the rules are embedded as they are).
        let out = output(
            Command::new("yamllint")
                .arg("--strict")
                .arg("-d")
                .arg(format!(
                    "{{extends: {}, rules: {{line-length: disable}}}}",
                    yamllint_config.display()
                ))
                .arg(&rendered_file),
        );
        assert!(
            out.status.success(),
            "yamllint on the rendered manifests ({name}):\n{}",
            text(&out)
        );
    }

    // The hand-written YAML.
    let sources = [
        "helm/peregrine/Chart.yaml",
        "helm/peregrine/values.yaml",
        "helm/peregrine/values-seed.yaml",
        "argocd/application.yaml",
        "prometheus/peregrine-rules.yaml",
        "prometheus/peregrine-rules.test.yaml",
        ".yamllint",
    ];
    let out = output(
        Command::new("yamllint")
            .arg("--strict")
            .arg("-c")
            .arg(&yamllint_config)
            .args(sources)
            .current_dir(deploy()),
    );
    assert!(out.status.success(), "yamllint deploy/:\n{}", text(&out));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn default_values_are_least_privilege() {
    if skip_without_tools("default_values_are_least_privilege") {
        return;
    }
    let m = Manifests::parse(&render(&[]));
    let mut problems = common_problems(&m);
    problems.extend(least_privilege_problems(&m));
    let c = m.container();
    expect(
        &mut problems,
        "image",
        &c["image"],
        json!("localhost/peregrine:dev"),
    );
    expect(
        &mut problems,
        "resources.requests",
        &c["resources"]["requests"],
        json!({"cpu": "35m", "memory": "138Mi"}),
    );
    expect(
        &mut problems,
        "updateStrategy",
        &m.daemonset()["spec"]["updateStrategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}),
    );
    // Off by default: the CRDs' objects, the dashboard and the NetworkPolicy.
    for (kind, name) in [
        ("ServiceMonitor", "peregrine"),
        ("PrometheusRule", "peregrine"),
        ("NetworkPolicy", "peregrine"),
        ("ConfigMap", "peregrine-dashboard"),
    ] {
        if m.find(kind, name).is_some() {
            problems.push(format!("{kind} {name} rendered with the default values"));
        }
    }
    assert_no_problems("default values", problems);

    // The two least-privilege switches.
    let m = Manifests::parse(&render(&[
        "--set",
        "leastPrivileged.sysResource=true",
        "--set",
        "leastPrivileged.seccompUnconfined=true",
    ]));
    let sc = &m.container()["securityContext"];
    assert_eq!(
        sc["capabilities"]["add"],
        json!([
            "BPF",
            "PERFMON",
            "SYS_PTRACE",
            "DAC_READ_SEARCH",
            "SYS_RESOURCE"
        ])
    );
    assert_eq!(sc["seccompProfile"], json!({"type": "Unconfined"}));

    // The checks catch a wrong rendering.
    let bad = Manifests::parse(&render(&[
        "--set",
        "tolerations[0].key=node-role.kubernetes.io/control-plane",
        "--set",
        "securityContext.privileged=true",
        "--set",
        "hostPID=false",
    ]));
    let found = [common_problems(&bad), least_privilege_problems(&bad)].concat();
    for want in ["tolerations", "hostPID", "privileged", "capabilities.drop"] {
        assert!(
            found.iter().any(|p| p.starts_with(want)),
            "the checks missed a wrong {want}: {found:?}"
        );
    }
    // Kernel drivers Peregrine does not have are refused at render time.
    let err = try_render(&["--set", "driver.kind=kmod"]).expect_err("driver.kind=kmod renders");
    assert!(err.contains("modern_ebpf"), "{err}");
}

#[test]
fn seed_values_mirror_the_seed() {
    if skip_without_tools("seed_values_mirror_the_seed") {
        return;
    }
    let m = Manifests::parse(&render(&seed()));
    let mut problems = common_problems(&m);
    problems.extend(seed_problems(&m));
    let rules = m.rules();
    let names: Vec<&str> = rules.iter().map(|(n, _)| n.as_str()).collect();
    expect(
        &mut problems,
        "rules files",
        &json!(names),
        json!(["seed_rules.yaml"]),
    );
    assert_no_problems("values-seed.yaml", problems);

    // The checks catch a wrong rendering.
    let bad = Manifests::parse(&render(&[
        "-f",
        SEED_VALUES,
        "--set",
        "serviceMonitor.interval=1m",
        "--set",
        "networkPolicy.loki.port=3200",
        "--set",
        "outputs.slack.minimumpriority=error",
    ]));
    let found = seed_problems(&bad);
    for want in [
        "ServiceMonitor interval",
        "NetworkPolicy egress",
        "config outputs.slack.minimumpriority",
    ] {
        assert!(
            found.iter().any(|p| p.starts_with(want)),
            "the checks missed a wrong {want}: {found:?}"
        );
    }
}

/// Writes the config and rules `m` renders into `dir`, runs `peregrine validate -c -r` on
/// them with `env`, and returns (success, stdout, stderr).
fn validate_rendered(m: &Manifests, dir: &Path, env: &[(&str, &str)]) -> (bool, String, String) {
    let _ = std::fs::remove_dir_all(dir);
    let rules_dir = dir.join("rules.d");
    std::fs::create_dir_all(&rules_dir).unwrap();
    let config = dir.join("peregrine.yaml");
    std::fs::write(&config, m.config_text()).unwrap();
    for (name, text) in m.rules() {
        std::fs::write(rules_dir.join(name), text).unwrap();
    }
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_peregrine"));
    cmd.arg("validate")
        .arg("-c")
        .arg(&config)
        .arg("-r")
        .arg(&rules_dir)
        .env_remove("SLACK_WEBHOOK_URL");
    // falcosidekick's variables would override the rendered file.
    for (var, _) in std::env::vars() {
        if [
            "LOKI_",
            "SLACK_",
            "WEBHOOK_",
            "TLSSERVER_",
            "LISTEN",
            "CUSTOMFIELDS",
        ]
        .iter()
        .any(|p| var.starts_with(p))
        {
            cmd.env_remove(var);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = output(&mut cmd);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn agent_accepts_the_rendered_config() {
    if skip_without_tools("agent_accepts_the_rendered_config") {
        return;
    }
    let base = std::env::temp_dir().join(format!("peregrine-helm-config-{}", std::process::id()));
    // In the pod, SLACK_WEBHOOK_URL comes from the Secret values-seed.yaml names.
    let slack = [(
        "SLACK_WEBHOOK_URL",
        "https://hooks.slack.com/services/T000/B000/XXXX",
    )];
    for (name, args) in [("default", &[][..]), ("seed", &seed()[..])] {
        let m = Manifests::parse(&render(args));
        let (ok, stdout, stderr) = validate_rendered(&m, &base.join(name), &slack);
        assert!(
            ok,
            "peregrine validate refused the {name} rendering:\n{stdout}\n{stderr}"
        );
        assert!(stderr.contains("configuration OK"), "{name}: {stderr}");
        assert!(
            !stderr.lines().any(|l| l.starts_with("warning:")),
            "{name}: the rendered config draws warnings:\n{stderr}"
        );
        assert!(
            stdout.contains("Loaded 2 rules, 5 macros, 0 lists; 2 rules enabled"),
            "{name}: {stdout}"
        );
    }

    // The seed's Slack URL comes from its Secret: without it the agent refuses to start.
    let m = Manifests::parse(&render(&seed()));
    let (ok, stdout, stderr) = validate_rendered(&m, &base.join("no-secret"), &[]);
    assert!(
        !ok,
        "validated without SLACK_WEBHOOK_URL:\n{stdout}\n{stderr}"
    );
    assert!(stderr.contains("SLACK_WEBHOOK_URL"), "{stderr}");

    // A key the agent does not know, passed through `falco:`, is refused with its position.
    let m = Manifests::parse(&render(&["--set", "falco.not_a_falco_key=1"]));
    let (ok, stdout, stderr) = validate_rendered(&m, &base.join("bad-key"), &[]);
    assert!(!ok, "validated an unknown key:\n{stdout}\n{stderr}");
    assert!(stderr.contains("not_a_falco_key: unknown key"), "{stderr}");
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn argocd_application_installs_the_chart_with_seed_values() {
    let path = deploy().join("argocd/application.yaml");
    let app = yaml_doc(&read(&path), "application.yaml");
    assert_eq!(app["apiVersion"], "argoproj.io/v1alpha1");
    assert_eq!(app["kind"], "Application");
    let source = &app["spec"]["source"];
    assert_eq!(source["path"], "deploy/helm/peregrine");
    assert_eq!(source["helm"]["valueFiles"], json!([SEED_VALUES]));
    assert_eq!(app["spec"]["destination"]["namespace"], "peregrine");
    let chart_dir = repo().join(source["path"].as_str().unwrap());
    assert!(
        chart_dir.join("Chart.yaml").is_file(),
        "{}",
        chart_dir.display()
    );
    assert!(chart_dir.join(SEED_VALUES).is_file());
}

#[test]
fn systemd_unit_verifies() {
    let unit = deploy().join("systemd/peregrine.service");
    let unit_text = read(&unit);
    for line in [
        "ExecStart=/usr/local/bin/peregrine -c /etc/peregrine/peregrine.yaml",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Restart=on-failure",
        "CapabilityBoundingSet=CAP_BPF CAP_PERFMON CAP_SYS_PTRACE CAP_DAC_READ_SEARCH",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=read-only",
        "PrivateTmp=yes",
        "ReadWritePaths=/var/log/peregrine",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK",
        "LockPersonality=yes",
        "MemoryDenyWriteExecute=yes",
    ] {
        assert!(
            unit_text.lines().any(|l| l == line),
            "{} lacks `{line}`",
            unit.display()
        );
    }
    // The agent reads every process: /proc must stay whole.
    for never in ["ProtectProc=", "ProcSubset=", "AmbientCapabilities=CAP"] {
        assert!(
            !unit_text.lines().any(|l| l.starts_with(never)),
            "{never} in {}",
            unit.display()
        );
    }

    // systemd-analyze verify, in a root of its own holding the unit, the system's units and
    // the binaries the unit names (systemd need not be running).
    let system_units = Path::new("/lib/systemd/system");
    let why = if !runs("systemd-analyze", &["--version"]) {
        Some("needs systemd-analyze (Debian's systemd package)".to_string())
    } else if !system_units.join("sysinit.target").is_file() {
        Some(format!(
            "needs systemd's units in {}",
            system_units.display()
        ))
    } else {
        None
    };
    if skip_because("systemd_unit_verifies (systemd-analyze verify)", why) {
        return;
    }
    let root = std::env::temp_dir().join(format!("peregrine-systemd-root-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    for d in [
        "etc/systemd/system",
        "usr/local/bin",
        "bin",
        "usr/lib/systemd",
    ] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    let copy = |from: &Path, to: &Path| {
        std::fs::copy(from, to)
            .unwrap_or_else(|e| panic!("{} -> {}: {e}", from.display(), to.display()));
    };
    copy(&unit, &root.join("etc/systemd/system/peregrine.service"));
    copy(Path::new("/bin/kill"), &root.join("bin/kill"));
    // verify only checks that ExecStart names an executable file.
    let agent = root.join("usr/local/bin/peregrine");
    std::fs::write(&agent, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&agent, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let status = Command::new("cp")
        .arg("-a")
        .arg(system_units)
        .arg(root.join("usr/lib/systemd/"))
        .status()
        .unwrap();
    assert!(status.success());
    let out = output(
        Command::new("systemd-analyze")
            .arg("verify")
            .arg(format!("--root={}", root.display()))
            .arg("peregrine.service"),
    );
    let said = text(&out);
    let _ = std::fs::remove_dir_all(&root);
    assert!(out.status.success(), "systemd-analyze verify:\n{said}");
    // Unknown or misspelt settings are only warnings to systemd: none allowed.
    assert!(said.trim().is_empty(), "systemd-analyze verify:\n{said}");
}
