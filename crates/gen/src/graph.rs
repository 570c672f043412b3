//! `gen graph`: the architecture as a diagram. Resources and data sources, who uses whom, and
//! the network paths the security groups open (internet to 8000, app to db on 5432).
//! Satellite blocks (a bucket's versioning, a role's policy, a security group's rules) are
//! folded into the block they serve, so the picture stays readable.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use tf::schema::{Direction, Drawn, Rule};
use tf::{Address, Document, Schema, Value};

/// Output formats of the diagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    Mermaid,
    Dot,
}

/// The diagram's nodes and edges, before rendering.
#[derive(Default, Debug, PartialEq)]
struct Graph {
    nodes: BTreeMap<String, (String, bool)>, // id -> (label, is_network_endpoint)
    edges: BTreeSet<(String, String, String)>, // from, to, label
}

impl Graph {
    fn node(&mut self, label: &str, endpoint: bool) {
        self.nodes.insert(id(label), (label.to_string(), endpoint));
    }
    fn edge(&mut self, from: &str, to: &str, label: String) {
        self.edges.insert((id(from), id(to), label));
    }
}

fn id(label: &str) -> String {
    let s: String = label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("n_{s}")
}

/// The blocks a body names (references and `depends_on`), resources and data sources only.
fn names(body: &Value) -> Vec<&Address> {
    let mut out = body.blocks_named();
    out.retain(|a| matches!(a, Address::Resource { .. } | Address::Data { .. }));
    out
}

/// The document's blocks, with who refers to each and how the schema draws them.
struct Blocks<'a> {
    doc: &'a Document,
    schema: &'a Schema,
    referrers: BTreeMap<&'a Address, Vec<&'a Address>>,
    /// How many blocks of each type are drawn as nodes: types with many become one node.
    counts: BTreeMap<&'a str, usize>,
}

impl<'a> Blocks<'a> {
    fn new(doc: &'a Document, schema: &'a Schema) -> Self {
        let mut referrers: BTreeMap<&Address, Vec<&Address>> = BTreeMap::new();
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for (a, body) in doc.blocks() {
            for r in names(body) {
                if doc.block(r).is_some() {
                    referrers.entry(r).or_default().push(a);
                }
            }
        }
        let mut blocks = Blocks {
            doc,
            schema,
            referrers,
            counts: BTreeMap::new(),
        };
        for (a, _) in doc.blocks() {
            if blocks.drawn(a) == Drawn::Node {
                *counts.entry(a.kind().unwrap_or_default()).or_default() += 1;
            }
        }
        blocks.counts = counts;
        blocks
    }

    fn drawn(&self, a: &Address) -> Drawn {
        self.schema.drawn(a.kind().unwrap_or_default())
    }

    /// The block a part is drawn as: what it refers to, or else who refers to it.
    fn owner(&self, a: &'a Address, depth: usize) -> &'a Address {
        let drawn = self.drawn(a);
        if drawn == Drawn::Node || depth > 4 {
            return a;
        }
        if drawn != Drawn::PartOfReferrer {
            let body = self.doc.block(a);
            let target = body
                .into_iter()
                .flat_map(names)
                .find(|r| self.drawn(r) == Drawn::Node);
            if let Some(t) = target {
                return t;
            }
        }
        match self.referrers.get(a).and_then(|v| v.first()) {
            Some(r) => self.owner(r, depth + 1),
            None => a,
        }
    }

    fn label(&self, a: &Address) -> String {
        let kind = a.kind().unwrap_or_default();
        match self.counts.get(kind).copied().unwrap_or(0) {
            n if n > 3 => {
                let prefix = if matches!(a, Address::Data { .. }) {
                    "data."
                } else {
                    ""
                };
                format!("{prefix}{kind}.* ({n})")
            }
            _ => a.to_string(),
        }
    }

    /// The label of the block `a` is drawn as.
    fn drawn_as(&self, a: &'a Address) -> String {
        self.label(self.owner(a, 0))
    }

    /// A network rule of `owner`: an edge between it and the rule's peer.
    fn rule(&self, g: &mut Graph, owner: &str, body: &'a Value, rule: &Rule) {
        let port = match body.get(rule.port) {
            Some(Value::Int(p)) => p.to_string(),
            _ => "?".into(),
        };
        let peer = match (body.get(rule.cidr), body.get(rule.peer)) {
            (Some(Value::Str(c)), _) => {
                let name = if c == "0.0.0.0/0" {
                    format!("internet {c}")
                } else {
                    c.clone()
                };
                g.node(&name, true);
                name
            }
            // A CIDR computed from a block (the VPC's), or a peer security group.
            (Some(v), _) | (None, Some(v)) => match names(v).first() {
                Some(r) => self.drawn_as(r),
                None => return,
            },
            (None, None) => return,
        };
        let label = format!("tcp {port}");
        match rule.direction {
            Direction::Ingress => g.edge(&peer, owner, label),
            Direction::Egress => g.edge(owner, &peer, label),
        }
    }
}

fn build(doc: &Document, schema: &Schema) -> Graph {
    let blocks = Blocks::new(doc, schema);
    let mut g = Graph::default();
    for (a, body) in doc.blocks() {
        let from = blocks.drawn_as(a);
        g.node(&from, false);
        if let Drawn::Rule(rule) = blocks.drawn(a) {
            blocks.rule(&mut g, &from, body, &rule);
            continue;
        }
        for r in names(body) {
            let to = blocks.drawn_as(r);
            if to != from {
                g.node(&to, false);
                g.edge(&from, &to, String::new());
            }
        }
    }
    g
}

/// Render the diagram of one environment.
pub fn render(env: &str, doc: &Document, schema: &Schema, format: GraphFormat) -> String {
    let g = build(doc, schema);
    let mut s = String::new();
    match format {
        GraphFormat::Mermaid => {
            s.push_str("flowchart LR\n");
            for (id, (label, net)) in &g.nodes {
                if *net {
                    let _ = writeln!(s, "  {id}([\"{label}\"])");
                } else {
                    let _ = writeln!(s, "  {id}[\"{label}\"]");
                }
            }
            for (a, b, l) in &g.edges {
                if l.is_empty() {
                    let _ = writeln!(s, "  {a} --> {b}");
                } else {
                    let _ = writeln!(s, "  {a} -- \"{l}\" --> {b}");
                }
            }
        }
        GraphFormat::Dot => {
            let _ = writeln!(
                s,
                "digraph \"{env}\" {{\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];"
            );
            for (id, (label, net)) in &g.nodes {
                let shape = if *net { ", shape=ellipse" } else { "" };
                let _ = writeln!(s, "  {id} [label=\"{label}\"{shape}];");
            }
            for (a, b, l) in &g.edges {
                if l.is_empty() {
                    let _ = writeln!(s, "  {a} -> {b};");
                } else {
                    let _ = writeln!(s, "  {a} -> {b} [label=\"{l}\"];");
                }
            }
            s.push_str("}\n");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use tf::schema::{ResourceType, Rule};
    use tf::{Body, Stack};

    const RULE: Rule = Rule {
        direction: Direction::Ingress,
        port: "from_port",
        cidr: "cidr_ipv4",
        peer: "referenced_security_group_id",
    };
    const SCHEMA: Schema = Schema {
        types: &[
            ResourceType {
                drawn: Drawn::PartOfReferenced,
                ..ResourceType::new("aws_s3_bucket_versioning")
            },
            ResourceType {
                drawn: Drawn::PartOfReferenced,
                ..ResourceType::new("aws_s3_bucket_policy")
            },
            ResourceType {
                drawn: Drawn::PartOfReferenced,
                ..ResourceType::new("aws_iam_role_policy")
            },
            ResourceType {
                drawn: Drawn::PartOfReferrer,
                ..ResourceType::new("aws_iam_policy_document")
            },
            ResourceType {
                drawn: Drawn::Rule(RULE),
                ..ResourceType::new("ingress")
            },
            ResourceType {
                drawn: Drawn::Rule(Rule {
                    direction: Direction::Egress,
                    ..RULE
                }),
                ..ResourceType::new("egress")
            },
        ],
    };

    fn small() -> Stack {
        let mut s = Stack::new(">= 1.11");
        let app = s.resource("aws_security_group", "app", Body::new());
        let db = s.resource("aws_security_group", "db", Body::new());
        let rule = |s: &mut Stack, kind: &str, name: &str, port: u16, peer: (&str, Value)| {
            let body = Body::new()
                .attr("security_group_id", app.attr("id"))
                .attr("from_port", port)
                .attr(peer.0, peer.1);
            s.resource(kind, name, body);
        };
        rule(
            &mut s,
            "ingress",
            "web",
            8000,
            ("cidr_ipv4", "0.0.0.0/0".into()),
        );
        rule(
            &mut s,
            "ingress",
            "ssh",
            22,
            ("cidr_ipv4", "203.0.113.0/24".into()),
        );
        let peer = ("referenced_security_group_id", db.attr("id").into());
        rule(&mut s, "egress", "pg", 5432, peer);
        let bucket = s.resource("aws_s3_bucket", "logs", Body::new());
        let versioning = Body::new().attr("bucket", bucket.attr("id"));
        s.resource("aws_s3_bucket_versioning", "logs", versioning);
        let doc = s.data("aws_iam_policy_document", "logs", Body::new());
        let policy = Body::new()
            .attr("bucket", bucket.attr("id"))
            .attr("policy", doc.attr("json"))
            .depends_on([app.clone()]);
        s.resource("aws_s3_bucket_policy", "logs", policy);
        // A role whose policy document names the bucket and the db: drawn as edges of the role.
        let role = s.resource("aws_iam_role", "app", Body::new());
        let statement = Body::new().attr(
            "resources",
            Value::list([bucket.attr("arn"), db.attr("arn")]),
        );
        let doc = s.data(
            "aws_iam_policy_document",
            "app",
            Body::new().block("statement", statement),
        );
        let role_policy = Body::new()
            .attr("role", role.attr("name"))
            .attr("policy", doc.attr("json"));
        s.resource("aws_iam_role_policy", "app", role_policy);
        s
    }

    fn edges(g: &Graph) -> Vec<String> {
        let label = |id: &str| g.nodes[id].0.clone();
        g.edges
            .iter()
            .map(|(a, b, l)| format!("{} -{l}-> {}", label(a), label(b)))
            .collect()
    }

    #[test]
    fn parts_fold_into_their_block_and_rules_become_edges() {
        let g = build(&Document::from_stack(&small()), &SCHEMA);
        let nodes: Vec<(&str, bool)> = g.nodes.values().map(|(l, n)| (l.as_str(), *n)).collect();
        assert_eq!(
            nodes,
            [
                ("203.0.113.0/24", true),
                ("aws_iam_role.app", false),
                ("aws_s3_bucket.logs", false),
                ("aws_security_group.app", false),
                ("aws_security_group.db", false),
                ("internet 0.0.0.0/0", true),
            ]
        );
        assert_eq!(
            edges(&g),
            [
                "203.0.113.0/24 -tcp 22-> aws_security_group.app",
                "aws_iam_role.app --> aws_s3_bucket.logs",
                "aws_iam_role.app --> aws_security_group.db",
                // The bucket policy's depends_on, drawn from the bucket it is part of.
                "aws_s3_bucket.logs --> aws_security_group.app",
                "aws_security_group.app -tcp 5432-> aws_security_group.db",
                "internet 0.0.0.0/0 -tcp 8000-> aws_security_group.app",
            ]
        );
    }

    #[test]
    fn many_blocks_of_a_type_are_one_node() {
        let mut s = Stack::new(">= 1.11");
        let role = s.resource("aws_iam_role", "app", Body::new());
        for i in 0..4 {
            let body = Body::new().attr("role", role.attr("name"));
            s.resource("aws_ssm_parameter", &format!("p{i}"), body);
        }
        let g = build(&Document::from_stack(&s), &SCHEMA);
        assert_eq!(edges(&g), ["aws_ssm_parameter.* (4) --> aws_iam_role.app"]);
    }

    /// The diagram reads the same from a stack and from its generated files read back.
    #[test]
    fn a_stack_and_its_files_draw_the_same() {
        let envs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../envs");
        for env in ["dev", "prod", "bootstrap"] {
            let stack = crate::stack(&envs, env).unwrap();
            let files = tf::json::render(&stack, "test");
            let read = crate::review::read_rendered(&files).unwrap();
            let direct = Document::from_stack(&stack);
            let g = build(&direct, crate::PROVIDER);
            assert!(!g.nodes.is_empty(), "{env}: {g:?}");
            assert_eq!(g, build(&read, crate::PROVIDER), "{env}");
        }
    }
}
