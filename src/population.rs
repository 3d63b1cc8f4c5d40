//! Cluster population: the namespaces and pods a set of policies is judged
//! against (used by the evaluators in `eval/`, outside the compile pipeline).
//!
//! Input: plain Kubernetes objects as YAML text, exactly as the API server or
//! `kubectl get ns,pods,svc -A -o yaml` prints them: a multi-document stream
//! of `Namespace`, `Pod` and `Service` objects, `kind: List` (or
//! `NamespaceList` / `PodList` / `ServiceList`) with `items`, or any mix.
//! Other kinds are ignored. Output: a [`Population`]: namespaces by name
//! (each carrying the `kubernetes.io/metadata.name` label the API server
//! sets), pods sorted by (namespace, name) with their labels and named
//! container ports, and services sorted by (namespace, name) with their
//! selectors and ports (read by `nplc check`'s population checks only).

use crate::ir::NAME_LABEL;
use crate::net::Protocol;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

/// The namespace a pod without `metadata.namespace` lives in.
pub const DEFAULT_NAMESPACE: &str = "default";

/// Every namespace and pod of a cluster that matters to network policy.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Population {
    /// Namespaces by name. Every pod's namespace is present.
    pub namespaces: BTreeMap<String, NamespaceInfo>,
    /// Pods sorted by (namespace, name); an [`Endpoint::Pod`] indexes this.
    pub pods: Vec<PodInfo>,
    /// Services sorted by (namespace, name). Policies never see them (a
    /// NetworkPolicy matches pods and their ports, after a Service has
    /// translated its `port` to the `targetPort`); `nplc check` reads them
    /// to find a policy port that is a Service's rather than its pods'.
    #[serde(default)]
    pub services: Vec<ServiceInfo>,
    /// What the cluster's resolver answers: names (lower case, no
    /// trailing dot) and their addresses, for the peers that are DNS names
    /// (`dns:NAME`, docs/semantics.md "DNS names"). Empty unless given.
    #[serde(default)]
    pub dns: Dns,
}

/// The names the cluster's resolver answers, and their addresses.
pub type Dns = BTreeMap<String, Vec<IpAddr>>;

/// A Service: the pods it selects and its ports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceInfo {
    pub namespace: String,
    pub name: String,
    /// `spec.selector`: the labels of the pods of its namespace it sends
    /// traffic to. `None` when it has none (or an empty one): its endpoints
    /// are managed by hand, or it is an `ExternalName`, and it selects no pod.
    pub selector: Option<BTreeMap<String, String>>,
    /// `spec.ports`, in the order written.
    pub ports: Vec<ServicePort>,
}

/// One port of a Service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServicePort {
    /// Its `name`, if it has one.
    pub name: Option<String>,
    /// `port`: what clients of the Service connect to.
    pub port: u16,
    /// `targetPort`: the pods' port the Service forwards to (`port` when
    /// not written).
    pub target: TargetPort,
    /// TCP when not written.
    pub protocol: Protocol,
}

/// A Service's `targetPort`: a number, or the name of a container port of
/// the pods it selects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TargetPort {
    Number(u16),
    Name(String),
}

impl ServiceInfo {
    /// Whether the service sends traffic to `pod` (same namespace, and the
    /// pod carries every label of its selector).
    pub fn selects(&self, pod: &PodInfo) -> bool {
        match &self.selector {
            Some(sel) => {
                pod.namespace == self.namespace
                    && sel.iter().all(|(k, v)| pod.labels.get(k) == Some(v))
            }
            None => false,
        }
    }
}

impl ServicePort {
    /// The container port the service port forwards to on `pod`: the
    /// number, or the pod's container port of that name and protocol;
    /// `None` when the pod declares no such named port.
    pub fn target_on(&self, pod: &PodInfo) -> Option<u16> {
        match &self.target {
            TargetPort::Number(n) => Some(*n),
            TargetPort::Name(name) => pod
                .ports
                .iter()
                .find(|p| p.name == *name && p.protocol == self.protocol)
                .map(|p| p.port),
        }
    }
}

/// A namespace and its labels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceInfo {
    pub name: String,
    /// Always includes `kubernetes.io/metadata.name=<name>`.
    pub labels: BTreeMap<String, String>,
}

/// A pod, its labels and its named container ports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodInfo {
    pub namespace: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// The ports of `spec.containers[*].ports[*]` that have a name, in
    /// container then port order.
    pub ports: Vec<NamedPort>,
}

/// A container port with a name (what a policy's named port resolves to).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NamedPort {
    pub name: String,
    pub port: u16,
    pub protocol: Protocol,
}

/// One end of a connection: a pod of the population or an address outside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    /// An index into [`Population::pods`].
    Pod(usize),
    /// An address that belongs to no pod of the population.
    External(IpAddr),
}

/// Why a population could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PopulationError {
    /// The 1-based position of the YAML document in the stream, when known.
    pub document: Option<usize>,
    /// The 1-based position in the document's `items`, for list documents.
    pub item: Option<usize>,
    /// What is wrong, lowercase, naming user input in backticks.
    pub message: String,
}

impl fmt::Display for PopulationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.document, self.item) {
            (Some(d), Some(i)) => write!(f, "document {d}, item {i}: {}", self.message),
            (Some(d), None) => write!(f, "document {d}: {}", self.message),
            (None, Some(i)) => write!(f, "item {i}: {}", self.message),
            (None, None) => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for PopulationError {}

impl Population {
    /// The index of the pod written `namespace/name`, if there is one.
    pub fn pod_by_ref(&self, reference: &str) -> Option<usize> {
        let (ns, name) = reference.split_once('/')?;
        self.pod_index(ns, name)
    }

    /// The index of the pod `name` in namespace `ns`, if there is one.
    pub fn pod_index(&self, ns: &str, name: &str) -> Option<usize> {
        self.pods
            .binary_search_by(|p| (p.namespace.as_str(), p.name.as_str()).cmp(&(ns, name)))
            .ok()
    }

    /// `namespace/name` of the pod at `index`, or `None` when out of range.
    pub fn pod_ref(&self, index: usize) -> Option<String> {
        self.pods
            .get(index)
            .map(|p| format!("{}/{}", p.namespace, p.name))
    }

    /// A readable name for an endpoint: `namespace/name` or the address.
    pub fn endpoint_name(&self, e: &Endpoint) -> String {
        match e {
            Endpoint::Pod(i) => self.pod_ref(*i).unwrap_or_else(|| format!("<pod #{i}>")),
            Endpoint::External(ip) => ip.to_string(),
        }
    }

    /// The labels of namespace `ns`. A namespace the population does not know
    /// (a hand-built population) has only its `kubernetes.io/metadata.name`
    /// label, as the API server would give it.
    pub fn namespace_labels(&self, ns: &str) -> BTreeMap<String, String> {
        match self.namespaces.get(ns) {
            Some(info) => info.labels.clone(),
            None => BTreeMap::from([(NAME_LABEL.to_string(), ns.to_string())]),
        }
    }

    /// Indices of the pods in namespace `ns`.
    pub fn pods_in_namespace<'a>(&'a self, ns: &'a str) -> impl Iterator<Item = usize> + 'a {
        self.pods
            .iter()
            .enumerate()
            .filter(move |(_, p)| p.namespace == ns)
            .map(|(i, _)| i)
    }

    /// Adds a namespace (setting the `kubernetes.io/metadata.name` label to
    /// its name, as the API server does), replacing one of the same name.
    pub fn insert_namespace(&mut self, name: &str, labels: BTreeMap<String, String>) {
        let mut labels = labels;
        labels.insert(NAME_LABEL.to_string(), name.to_string());
        self.namespaces.insert(
            name.to_string(),
            NamespaceInfo {
                name: name.to_string(),
                labels,
            },
        );
    }

    /// Adds a pod, creating its namespace when missing and keeping the pods
    /// sorted. Returns the pod's index, or `None` (and changes nothing) when a
    /// pod of that namespace and name exists already. Indices of pods sorting
    /// after the new one shift by one.
    pub fn insert_pod(&mut self, pod: PodInfo) -> Option<usize> {
        let key = (pod.namespace.as_str(), pod.name.as_str());
        let at = match self
            .pods
            .binary_search_by(|p| (p.namespace.as_str(), p.name.as_str()).cmp(&key))
        {
            Ok(_) => return None,
            Err(at) => at,
        };
        if !self.namespaces.contains_key(&pod.namespace) {
            let ns = pod.namespace.clone();
            self.insert_namespace(&ns, BTreeMap::new());
        }
        self.pods.insert(at, pod);
        Some(at)
    }
}

/// Loads a population from Kubernetes objects (see the module documentation).
pub fn load_population(text: &str) -> Result<Population, PopulationError> {
    let mut namespaces: BTreeMap<String, NamespaceInfo> = BTreeMap::new();
    let mut pods: BTreeMap<(String, String), PodInfo> = BTreeMap::new();
    let mut services: BTreeMap<(String, String), ServiceInfo> = BTreeMap::new();

    for (doc_index, doc) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let document = doc_index + 1;
        let at = |item: Option<usize>, message: String| PopulationError {
            document: Some(document),
            item,
            message,
        };
        let value = Value::deserialize(doc).map_err(|e| at(None, format!("invalid yaml: {e}")))?;
        if value.is_null() {
            // An empty document (`---` with nothing after it, or only comments).
            continue;
        }
        let kind = object_kind(&value).map_err(|m| at(None, m))?;
        let objects: Vec<(Option<usize>, &Value)> = if kind == "List" || kind.ends_with("List") {
            match value.get("items") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(items)) => items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| (Some(i + 1), v))
                    .collect(),
                Some(_) => return Err(at(None, format!("`items` of a `{kind}` must be a list"))),
            }
        } else {
            vec![(None, &value)]
        };
        for (item, obj) in objects {
            let kind = match item {
                None => kind,
                // The API server omits `kind` on the items of a typed list
                // (`PodList`); `kind: List` items always carry their own.
                Some(_) if obj.is_object() && obj.get("kind").is_none() && kind != "List" => {
                    kind.trim_end_matches("List")
                }
                Some(_) => object_kind(obj).map_err(|m| at(item, m))?,
            };
            match kind {
                "Namespace" => {
                    let ns = namespace_from(obj).map_err(|m| at(item, m))?;
                    if namespaces.contains_key(&ns.name) {
                        return Err(at(item, format!("duplicate namespace `{}`", ns.name)));
                    }
                    namespaces.insert(ns.name.clone(), ns);
                }
                "Pod" => {
                    let pod = pod_from(obj).map_err(|m| at(item, m))?;
                    let key = (pod.namespace.clone(), pod.name.clone());
                    if pods.contains_key(&key) {
                        return Err(at(item, format!("duplicate pod `{}/{}`", key.0, key.1)));
                    }
                    pods.insert(key, pod);
                }
                "Service" => {
                    let svc = service_from(obj).map_err(|m| at(item, m))?;
                    let key = (svc.namespace.clone(), svc.name.clone());
                    if services.contains_key(&key) {
                        return Err(at(item, format!("duplicate service `{}/{}`", key.0, key.1)));
                    }
                    services.insert(key, svc);
                }
                _ => {}
            }
        }
    }

    let mut population = Population {
        namespaces,
        pods: Vec::with_capacity(pods.len()),
        // the map iterates in (namespace, name) order
        services: services.into_values().collect(),
        dns: Dns::new(),
    };
    for pod in pods.into_values() {
        if !population.namespaces.contains_key(&pod.namespace) {
            let ns = pod.namespace.clone();
            population.insert_namespace(&ns, BTreeMap::new());
        }
        // The map iterates in (namespace, name) order, so the pods stay sorted.
        population.pods.push(pod);
    }
    Ok(population)
}

/// The `kind` of an object, or a message saying why there is none.
fn object_kind(v: &Value) -> Result<&str, String> {
    if !v.is_object() {
        return Err("expected a kubernetes object (a mapping with `kind`)".to_string());
    }
    match v.get("kind") {
        Some(Value::String(k)) => Ok(k.as_str()),
        Some(_) => Err("`kind` must be a string".to_string()),
        None => Err("object has no `kind`".to_string()),
    }
}

/// `metadata.name`, required.
fn metadata_name(obj: &Value, kind: &str) -> Result<String, String> {
    match obj.get("metadata").and_then(|m| m.get("name")) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            Err(format!("`{kind}` object has no `metadata.name`"))
        }
        Some(_) => Err(format!("`metadata.name` of a `{kind}` must be a string")),
    }
}

/// `metadata.labels` as strings; `what` names the object in messages.
fn metadata_labels(obj: &Value, what: &str) -> Result<BTreeMap<String, String>, String> {
    let mut labels = BTreeMap::new();
    match obj.get("metadata").and_then(|m| m.get("labels")) {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (k, v) in map {
                match v {
                    Value::String(s) => {
                        labels.insert(k.clone(), s.clone());
                    }
                    _ => return Err(format!("label `{k}` of {what} must be a string (quote it)")),
                }
            }
        }
        Some(_) => return Err(format!("`metadata.labels` of {what} must be a mapping")),
    }
    Ok(labels)
}

fn namespace_from(obj: &Value) -> Result<NamespaceInfo, String> {
    let name = metadata_name(obj, "Namespace")?;
    let mut labels = metadata_labels(obj, &format!("namespace `{name}`"))?;
    // the API server always sets this label to the name, whatever a file says
    labels.insert(NAME_LABEL.to_string(), name.clone());
    Ok(NamespaceInfo { name, labels })
}

/// `metadata.namespace`, `default` when not written; `what` is `pod` or
/// `service`.
fn metadata_namespace(obj: &Value, what: &str, name: &str) -> Result<String, String> {
    match obj.get("metadata").and_then(|m| m.get("namespace")) {
        None | Some(Value::Null) => Ok(DEFAULT_NAMESPACE.to_string()),
        Some(Value::String(s)) if s.is_empty() => Ok(DEFAULT_NAMESPACE.to_string()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(format!(
            "`metadata.namespace` of {what} `{name}` must be a string"
        )),
    }
}

/// A protocol field: TCP when absent; `what` names the port in messages.
fn protocol_of(p: &Value, what: &dyn Fn() -> String) -> Result<Protocol, String> {
    match p.get("protocol") {
        None | Some(Value::Null) => Ok(Protocol::Tcp),
        Some(Value::String(s)) => {
            Protocol::parse(s).ok_or_else(|| format!("unknown protocol `{s}` on {}", what()))
        }
        Some(_) => Err(format!("the protocol of {} must be a string", what())),
    }
}

/// A port number field between 1 and 65535, `None` when absent or not one.
fn port_number(v: Option<&Value>) -> Option<u16> {
    match v {
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| u16::try_from(n).ok())
            .filter(|n| *n != 0),
        _ => None,
    }
}

fn service_from(obj: &Value) -> Result<ServiceInfo, String> {
    let name = metadata_name(obj, "Service")?;
    let namespace = metadata_namespace(obj, "service", &name)?;
    let what = format!("service `{namespace}/{name}`");
    let spec = obj.get("spec");
    let selector = match spec.and_then(|s| s.get("selector")) {
        None | Some(Value::Null) => None,
        Some(Value::Object(map)) => {
            let mut sel = BTreeMap::new();
            for (k, v) in map {
                match v {
                    Value::String(s) => {
                        sel.insert(k.clone(), s.clone());
                    }
                    _ => {
                        return Err(format!(
                            "selector label `{k}` of {what} must be a string (quote it)"
                        ))
                    }
                }
            }
            // an empty selector selects no pod (the endpoints are managed by hand)
            (!sel.is_empty()).then_some(sel)
        }
        Some(_) => return Err(format!("`spec.selector` of {what} must be a mapping")),
    };
    let list = match spec.and_then(|s| s.get("ports")) {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(ps)) => ps.as_slice(),
        Some(_) => return Err(format!("`spec.ports` of {what} must be a list")),
    };
    let mut ports = Vec::new();
    for (i, p) in list.iter().enumerate() {
        let port_name = match p.get("name") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.is_empty() => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(format!("a port name of {what} must be a string")),
        };
        let label = || match &port_name {
            Some(n) => format!("port `{n}` of {what}"),
            None => format!("port {} of {what}", i + 1),
        };
        let Some(port) = port_number(p.get("port")) else {
            return Err(format!("{} needs a `port` between 1 and 65535", label()));
        };
        let target = match p.get("targetPort") {
            None | Some(Value::Null) => TargetPort::Number(port),
            Some(Value::Number(_)) => match port_number(p.get("targetPort")) {
                Some(n) => TargetPort::Number(n),
                None => {
                    return Err(format!(
                        "the `targetPort` of {} must be between 1 and 65535, or a port name",
                        label()
                    ))
                }
            },
            // a number written as a string (`"8080"`) is read as the number
            Some(Value::String(s)) => match s.parse::<u16>() {
                Ok(n) if n != 0 => TargetPort::Number(n),
                _ if !s.is_empty() => TargetPort::Name(s.clone()),
                _ => TargetPort::Number(port),
            },
            Some(_) => {
                return Err(format!(
                    "the `targetPort` of {} must be a number or a port name",
                    label()
                ))
            }
        };
        let protocol = protocol_of(p, &label)?;
        ports.push(ServicePort {
            name: port_name,
            port,
            target,
            protocol,
        });
    }
    Ok(ServiceInfo {
        namespace,
        name,
        selector,
        ports,
    })
}

fn pod_from(obj: &Value) -> Result<PodInfo, String> {
    let name = metadata_name(obj, "Pod")?;
    let namespace = metadata_namespace(obj, "pod", &name)?;
    let what = format!("pod `{namespace}/{name}`");
    let labels = metadata_labels(obj, &what)?;
    let mut ports = Vec::new();
    let containers = match obj.get("spec").and_then(|s| s.get("containers")) {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(cs)) => cs.as_slice(),
        Some(_) => return Err(format!("`spec.containers` of {what} must be a list")),
    };
    for container in containers {
        let cports = match container.get("ports") {
            None | Some(Value::Null) => &[][..],
            Some(Value::Array(ps)) => ps.as_slice(),
            Some(_) => return Err(format!("container `ports` of {what} must be a list")),
        };
        for p in cports {
            let port_name = match p.get("name") {
                None | Some(Value::Null) => continue,
                Some(Value::String(s)) if s.is_empty() => continue,
                Some(Value::String(s)) => s.clone(),
                Some(_) => return Err(format!("a container port name of {what} must be a string")),
            };
            let port = match port_number(p.get("containerPort")) {
                Some(n) => n,
                None => {
                    return Err(format!(
                        "container port `{port_name}` of {what} needs a `containerPort` between 1 and 65535"
                    ))
                }
            };
            let protocol = protocol_of(p, &|| format!("container port `{port_name}` of {what}"))?;
            ports.push(NamedPort {
                name: port_name,
                port,
                protocol,
            });
        }
    }
    Ok(PodInfo {
        namespace,
        name,
        labels,
        ports,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KUBECTL_LIST: &str = r#"apiVersion: v1
items:
- apiVersion: v1
  kind: Namespace
  metadata:
    creationTimestamp: "2024-05-01T10:00:00Z"
    labels:
      kubernetes.io/metadata.name: shop
      team: web
    managedFields:
    - apiVersion: v1
      fieldsType: FieldsV1
      fieldsV1:
        f:metadata:
          f:labels:
            .: {}
            f:kubernetes.io/metadata.name: {}
            f:team: {}
      manager: kubectl-create
      operation: Update
      time: "2024-05-01T10:00:00Z"
    name: shop
    resourceVersion: "401"
    uid: 6a1b2c3d-0000-4000-8000-000000000001
  spec:
    finalizers:
    - kubernetes
  status:
    phase: Active
- apiVersion: v1
  kind: Namespace
  metadata:
    labels:
      kubernetes.io/metadata.name: kube-system
    name: kube-system
  spec:
    finalizers:
    - kubernetes
  status:
    phase: Active
- apiVersion: v1
  kind: Pod
  metadata:
    creationTimestamp: "2024-05-01T10:01:00Z"
    generateName: web-7c9d8f6b5-
    labels:
      app: web
      pod-template-hash: 7c9d8f6b5
    managedFields:
    - apiVersion: v1
      fieldsType: FieldsV1
      fieldsV1:
        f:metadata:
          f:generateName: {}
      manager: kube-controller-manager
      operation: Update
      time: "2024-05-01T10:01:00Z"
    name: web-7c9d8f6b5-x2x7q
    namespace: shop
    ownerReferences:
    - apiVersion: apps/v1
      blockOwnerDeletion: true
      controller: true
      kind: ReplicaSet
      name: web-7c9d8f6b5
      uid: 6a1b2c3d-0000-4000-8000-000000000002
    resourceVersion: "455"
    uid: 6a1b2c3d-0000-4000-8000-000000000003
  spec:
    containers:
    - image: nginx:1.27
      imagePullPolicy: IfNotPresent
      name: nginx
      ports:
      - containerPort: 8080
        name: http
        protocol: TCP
      - containerPort: 9090
        protocol: TCP
      - containerPort: 5353
        name: dns
        protocol: UDP
      resources: {}
      terminationMessagePath: /dev/termination-log
      terminationMessagePolicy: File
    - image: envoy:1.30
      name: sidecar
      ports:
      - containerPort: 15000
        name: admin
    initContainers:
    - image: busybox
      name: init
      ports:
      - containerPort: 7000
        name: init-port
    dnsPolicy: ClusterFirst
    nodeName: node-1
    restartPolicy: Always
  status:
    conditions:
    - lastProbeTime: null
      lastTransitionTime: "2024-05-01T10:01:05Z"
      status: "True"
      type: Ready
    containerStatuses:
    - name: nginx
      ready: true
      restartCount: 0
    phase: Running
    podIP: 10.244.1.7
    podIPs:
    - ip: 10.244.1.7
- apiVersion: v1
  kind: Pod
  metadata:
    labels:
      k8s-app: kube-dns
    name: coredns-5d78c9869d-abcde
    namespace: kube-system
  spec:
    containers:
    - name: coredns
      ports:
      - containerPort: 53
        name: dns
        protocol: UDP
      - containerPort: 53
        name: dns-tcp
        protocol: TCP
  status:
    phase: Running
- apiVersion: v1
  kind: Pod
  metadata:
    name: orphan
    namespace: batch
  spec:
    containers:
    - name: job
kind: List
metadata:
  resourceVersion: ""
"#;

    #[test]
    fn loads_a_kubectl_list_with_noise() {
        let pop = load_population(KUBECTL_LIST).unwrap();
        assert_eq!(
            pop.namespaces.keys().collect::<Vec<_>>(),
            vec!["batch", "kube-system", "shop"]
        );
        assert_eq!(pop.namespaces["shop"].labels["team"], "web");
        // The implicit namespace still gets the name label.
        assert_eq!(
            pop.namespaces["batch"].labels,
            BTreeMap::from([(NAME_LABEL.to_string(), "batch".to_string())])
        );
        let refs: Vec<String> = (0..pop.pods.len())
            .map(|i| pop.pod_ref(i).unwrap())
            .collect();
        assert_eq!(
            refs,
            vec![
                "batch/orphan",
                "kube-system/coredns-5d78c9869d-abcde",
                "shop/web-7c9d8f6b5-x2x7q"
            ]
        );
        let web = &pop.pods[pop.pod_by_ref("shop/web-7c9d8f6b5-x2x7q").unwrap()];
        assert_eq!(web.labels["app"], "web");
        assert_eq!(
            web.ports,
            vec![
                NamedPort {
                    name: "http".into(),
                    port: 8080,
                    protocol: Protocol::Tcp
                },
                NamedPort {
                    name: "dns".into(),
                    port: 5353,
                    protocol: Protocol::Udp
                },
                NamedPort {
                    name: "admin".into(),
                    port: 15000,
                    protocol: Protocol::Tcp
                },
            ]
        );
        assert!(pop.pods[0].ports.is_empty());
        assert_eq!(pop.pod_by_ref("shop/nope"), None);
        assert_eq!(pop.pod_by_ref("no-slash"), None);
    }

    #[test]
    fn loads_a_multi_document_stream_and_ignores_other_kinds() {
        let text = r#"
---
apiVersion: v1
kind: Pod
metadata:
  name: b
  labels: {pod: b}
---
# only a comment
---
apiVersion: v1
kind: Service
metadata: {name: svc, namespace: default}
spec: {ports: [{port: 80}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
---
apiVersion: v1
kind: Namespace
metadata:
  name: default
  labels: {env: dev}
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: default}
"#;
        let pop = load_population(text).unwrap();
        assert_eq!(pop.pods.len(), 2);
        // the service (no selector) is read; the deployment is not
        assert_eq!(pop.services.len(), 1);
        assert_eq!(pop.services[0].selector, None);
        assert_eq!(pop.services[0].ports[0].target, TargetPort::Number(80));
        assert_eq!(pop.pods[0].name, "a");
        assert_eq!(pop.pods[1].name, "b");
        assert_eq!(pop.pods[1].namespace, "default");
        assert_eq!(pop.namespaces.len(), 1);
        let labels = &pop.namespaces["default"].labels;
        assert_eq!(labels["env"], "dev");
        assert_eq!(labels[NAME_LABEL], "default");
    }

    #[test]
    fn loads_typed_lists_and_empty_input() {
        let text = r#"
apiVersion: v1
kind: NamespaceList
items:
- metadata: {name: x, labels: {ns: x}}
  kind: Namespace
---
apiVersion: v1
kind: PodList
items:
- kind: Pod
  metadata: {name: a, namespace: x}
- metadata: {name: b, namespace: x}
"#;
        let pop = load_population(text).unwrap();
        assert_eq!(pop.namespaces["x"].labels.len(), 2);
        assert_eq!(pop.pod_by_ref("x/b"), Some(1));
        assert_eq!(pop.pod_by_ref("x/a"), Some(0));
        assert_eq!(load_population("").unwrap(), Population::default());
        assert_eq!(
            load_population("kind: List\nitems: []\n").unwrap(),
            Population::default()
        );
    }

    #[test]
    fn keeps_an_explicit_name_label() {
        // The API server forces the label, but a file may say otherwise; keep
        // what the file says (it is what selectors would see in that file).
        let pop = load_population(
            "kind: Namespace\nmetadata:\n  name: x\n  labels: {kubernetes.io/metadata.name: x}\n",
        )
        .unwrap();
        assert_eq!(pop.namespaces["x"].labels.len(), 1);
    }

    #[test]
    fn protocol_defaults_to_tcp() {
        let pop = load_population(
            "kind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n  - name: c\n    ports:\n    - {name: p, containerPort: 81}\n    - {name: q, containerPort: 82, protocol: SCTP}\n",
        )
        .unwrap();
        assert_eq!(pop.pods[0].ports[0].protocol, Protocol::Tcp);
        assert_eq!(pop.pods[0].ports[1].protocol, Protocol::Sctp);
    }

    #[test]
    fn duplicate_pod_is_an_error_with_position() {
        let text = "kind: Pod\nmetadata: {name: a, namespace: x}\n---\nkind: List\nitems:\n- kind: Namespace\n  metadata: {name: x}\n- kind: Pod\n  metadata: {name: a, namespace: x}\n";
        let err = load_population(text).unwrap_err();
        assert_eq!(err.document, Some(2));
        assert_eq!(err.item, Some(2));
        assert_eq!(err.to_string(), "document 2, item 2: duplicate pod `x/a`");
    }

    #[test]
    fn duplicate_namespace_is_an_error() {
        let text =
            "kind: Namespace\nmetadata: {name: x}\n---\nkind: Namespace\nmetadata: {name: x}\n";
        let err = load_population(text).unwrap_err();
        assert_eq!(err.to_string(), "document 2: duplicate namespace `x`");
    }

    #[test]
    fn bad_inputs_have_clear_messages() {
        let cases = [
            ("kind: Pod\nmetadata: {namespace: x}\n", "document 1: `Pod` object has no `metadata.name`"),
            ("- a\n- b\n", "document 1: expected a kubernetes object (a mapping with `kind`)"),
            ("metadata: {name: a}\n", "document 1: object has no `kind`"),
            (
                "kind: Pod\nmetadata: {name: a, labels: {version: 1}}\n",
                "document 1: label `version` of pod `default/a` must be a string (quote it)",
            ),
            (
                "kind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, ports: [{name: p, containerPort: 70000}]}]}\n",
                "document 1: container port `p` of pod `default/a` needs a `containerPort` between 1 and 65535",
            ),
            (
                "kind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, ports: [{name: p, containerPort: 80, protocol: ICMP}]}]}\n",
                "document 1: unknown protocol `ICMP` on container port `p` of pod `default/a`",
            ),
            ("kind: List\nitems: 3\n", "document 1: `items` of a `List` must be a list"),
            ("kind: List\nitems:\n- {metadata: {name: a}}\n", "document 1, item 1: object has no `kind`"),
        ];
        for (text, want) in cases {
            let err = load_population(text).unwrap_err();
            assert_eq!(err.to_string(), want, "for input:\n{text}");
        }
        let err = load_population("kind: Namespace\nmetadata: {name: x}\n---\nkind: [unclosed\n")
            .unwrap_err();
        assert_eq!(err.document, Some(2), "{err}");
        assert!(err.message.starts_with("invalid yaml"), "{err}");
        eprintln!("{err}");
    }

    /// `kubectl get ns,pods,svc -A -o yaml`, trimmed: seed 001's target
    /// behind a Service on another port, a named targetPort, a service
    /// without selector and one of UDP.
    const SERVICES: &str = r#"apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata:
    name: target
    namespace: demo
    resourceVersion: "812"
  spec:
    clusterIP: 10.96.14.2
    clusterIPs: [10.96.14.2]
    internalTrafficPolicy: Cluster
    ipFamilies: [IPv4]
    ports:
    - port: 2345
      protocol: TCP
      targetPort: 1234
    selector:
      app: target
    sessionAffinity: None
    type: ClusterIP
  status:
    loadBalancer: {}
- apiVersion: v1
  kind: Service
  metadata: {name: web, namespace: shop}
  spec:
    selector: {app: web, tier: front}
    ports:
    - {name: http, port: 80, targetPort: http}
    - {name: metrics, port: 9100}
    - {name: dns, port: 53, protocol: UDP, targetPort: "5353"}
- apiVersion: v1
  kind: Service
  metadata: {name: kubernetes}
  spec:
    ports:
    - {name: https, port: 443, targetPort: 6443}
- apiVersion: v1
  kind: Service
  metadata: {name: empty-selector, namespace: shop}
  spec: {selector: {}, ports: [{port: 1}]}
- apiVersion: v1
  kind: Service
  metadata: {name: external, namespace: shop}
  spec: {type: ExternalName, externalName: db.example.com}
- apiVersion: v1
  kind: Pod
  metadata: {name: web-0, namespace: shop, labels: {app: web, tier: front, pod-template-hash: abc}}
  spec:
    containers:
    - name: c
      ports: [{name: http, containerPort: 8080}, {name: http, containerPort: 8081, protocol: UDP}]
- apiVersion: v1
  kind: Pod
  metadata: {name: web-1, namespace: other, labels: {app: web, tier: front}}
"#;

    #[test]
    fn loads_services_sorted_with_their_ports() {
        let pop = load_population(SERVICES).unwrap();
        let names: Vec<String> = pop
            .services
            .iter()
            .map(|s| format!("{}/{}", s.namespace, s.name))
            .collect();
        assert_eq!(
            names,
            [
                "default/kubernetes",
                "demo/target",
                "shop/empty-selector",
                "shop/external",
                "shop/web"
            ]
        );
        let target = &pop.services[1];
        assert_eq!(
            target.selector,
            Some(BTreeMap::from([("app".to_string(), "target".to_string())]))
        );
        assert_eq!(
            target.ports,
            vec![ServicePort {
                name: None,
                port: 2345,
                target: TargetPort::Number(1234),
                protocol: Protocol::Tcp
            }]
        );
        let web = &pop.services[4];
        assert_eq!(
            web.ports,
            vec![
                ServicePort {
                    name: Some("http".into()),
                    port: 80,
                    target: TargetPort::Name("http".into()),
                    protocol: Protocol::Tcp
                },
                ServicePort {
                    name: Some("metrics".into()),
                    port: 9100,
                    target: TargetPort::Number(9100),
                    protocol: Protocol::Tcp
                },
                ServicePort {
                    name: Some("dns".into()),
                    port: 53,
                    target: TargetPort::Number(5353),
                    protocol: Protocol::Udp
                },
            ]
        );
        // no selector, an empty one, an ExternalName: they select nothing
        assert_eq!(pop.services[0].selector, None);
        assert_eq!(pop.services[2].selector, None);
        assert_eq!(pop.services[3].selector, None);
        assert!(pop.services[3].ports.is_empty());
        // services create no namespace of their own
        assert!(!pop.namespaces.contains_key("demo"));
    }

    #[test]
    fn a_service_selects_pods_of_its_namespace_and_resolves_named_targets() {
        let pop = load_population(SERVICES).unwrap();
        let web = &pop.services[4];
        let web0 = &pop.pods[pop.pod_by_ref("shop/web-0").unwrap()];
        let web1 = &pop.pods[pop.pod_by_ref("other/web-1").unwrap()];
        assert!(web.selects(web0));
        // same labels, another namespace
        assert!(!web.selects(web1));
        assert!(!pop.services[2].selects(web0));
        // the named target resolves by name and protocol
        assert_eq!(web.ports[0].target_on(web0), Some(8080));
        assert_eq!(web.ports[0].target_on(web1), None);
        assert_eq!(web.ports[1].target_on(web1), Some(9100));
        let udp_http = ServicePort {
            protocol: Protocol::Udp,
            ..web.ports[0].clone()
        };
        assert_eq!(udp_http.target_on(web0), Some(8081));
    }

    #[test]
    fn bad_services_have_clear_messages() {
        let cases = [
            ("kind: Service\nmetadata: {namespace: x}\n", "document 1: `Service` object has no `metadata.name`"),
            (
                "kind: Service\nmetadata: {name: s}\nspec: {ports: [{targetPort: 80}]}\n",
                "document 1: port 1 of service `default/s` needs a `port` between 1 and 65535",
            ),
            (
                "kind: Service\nmetadata: {name: s}\nspec: {ports: [{name: web, port: 80, targetPort: 0}]}\n",
                "document 1: the `targetPort` of port `web` of service `default/s` must be between 1 and 65535, or a port name",
            ),
            (
                "kind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80, protocol: ICMP}]}\n",
                "document 1: unknown protocol `ICMP` on port 1 of service `default/s`",
            ),
            (
                "kind: Service\nmetadata: {name: s}\nspec: {selector: {version: 1}}\n",
                "document 1: selector label `version` of service `default/s` must be a string (quote it)",
            ),
            ("kind: Service\nmetadata: {name: s}\nspec: {selector: [a]}\n", "document 1: `spec.selector` of service `default/s` must be a mapping"),
            ("kind: Service\nmetadata: {name: s}\nspec: {ports: 80}\n", "document 1: `spec.ports` of service `default/s` must be a list"),
            (
                "kind: Service\nmetadata: {name: s}\n---\nkind: ServiceList\nitems:\n- metadata: {name: s, namespace: default}\n",
                "document 2, item 1: duplicate service `default/s`",
            ),
        ];
        for (text, want) in cases {
            let err = load_population(text).unwrap_err();
            assert_eq!(err.to_string(), want, "for input:\n{text}");
        }
    }

    #[test]
    fn insert_helpers_keep_invariants() {
        let mut pop = Population::default();
        let pod = |ns: &str, name: &str| PodInfo {
            namespace: ns.into(),
            name: name.into(),
            labels: BTreeMap::new(),
            ports: vec![],
        };
        assert_eq!(pop.insert_pod(pod("y", "b")), Some(0));
        assert_eq!(pop.insert_pod(pod("x", "a")), Some(0));
        assert_eq!(pop.insert_pod(pod("x", "a")), None);
        assert_eq!(pop.pod_by_ref("y/b"), Some(1));
        assert_eq!(pop.namespaces["x"].labels[NAME_LABEL], "x");
        assert_eq!(pop.pods_in_namespace("y").collect::<Vec<_>>(), vec![1]);
        assert_eq!(pop.endpoint_name(&Endpoint::Pod(1)), "y/b");
        assert_eq!(
            pop.endpoint_name(&Endpoint::External("192.0.2.1".parse().unwrap())),
            "192.0.2.1"
        );
        assert_eq!(pop.namespace_labels("nope")[NAME_LABEL], "nope");
    }
}
