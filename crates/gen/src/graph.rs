//! `gen graph`: the architecture as a diagram. Resources and data sources, who uses whom, and
//! the network paths the security groups open (internet to 8000, app to db on 5432).
//! Satellite blocks (a bucket's versioning, a role's policy, a security group's rules) are
//! folded into the block they serve, so the picture stays readable.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use tf::{Address, Stack, Value};

/// Output formats of the diagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    Mermaid,
    Dot,
}

const SATELLITES: &[&str] = &[
    "aws_s3_bucket_versioning",
    "aws_s3_bucket_server_side_encryption_configuration",
    "aws_s3_bucket_public_access_block",
    "aws_s3_bucket_ownership_controls",
    "aws_s3_bucket_lifecycle_configuration",
    "aws_s3_bucket_policy",
    "aws_iam_role_policy",
    "aws_iam_role_policy_attachment",
    "aws_iam_policy_document",
];

const RULES: &[&str] = &[
    "aws_vpc_security_group_ingress_rule",
    "aws_vpc_security_group_egress_rule",
];

fn kind(a: &Address) -> &str {
    match a {
        Address::Resource { kind, .. } | Address::Data { kind, .. } => kind,
        _ => "",
    }
}

fn refs_of(body: &tf::Body) -> Vec<Address> {
    let mut out = Vec::new();
    for v in body.values() {
        let mut rs = Vec::new();
        v.refs(&mut rs);
        out.extend(rs.into_iter().map(|r| r.addr.clone()));
        let mut bare = Vec::new();
        v.addresses(&mut bare);
        out.extend(bare.into_iter().cloned());
    }
    out.retain(|a| matches!(a, Address::Resource { .. } | Address::Data { .. }));
    out
}

/// The diagram's nodes and edges, before rendering.
#[derive(Default)]
struct Graph {
    nodes: BTreeMap<String, (String, bool)>, // id -> (label, is_network_endpoint)
    edges: BTreeSet<(String, String, String)>, // from, to, label
}

fn id(label: &str) -> String {
    let s: String = label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("n_{s}")
}

fn build(stack: &Stack) -> Graph {
    let blocks: Vec<_> = stack.resources.iter().chain(&stack.data).collect();
    // Who references each block: satellites with no primary of their own follow their referrer.
    let mut referrers: BTreeMap<&Address, Vec<&Address>> = BTreeMap::new();
    for b in &blocks {
        for r in refs_of(&b.body) {
            if let Some(t) = blocks.iter().find(|x| x.addr == r) {
                referrers.entry(&t.addr).or_default().push(&b.addr);
            }
        }
    }
    let is_sat = |a: &Address| SATELLITES.contains(&kind(a)) || RULES.contains(&kind(a));
    fn owner<'a>(
        a: &'a Address,
        blocks: &[&'a tf::Block],
        referrers: &BTreeMap<&'a Address, Vec<&'a Address>>,
        is_sat: &dyn Fn(&Address) -> bool,
        depth: usize,
    ) -> &'a Address {
        if !is_sat(a) || depth > 4 {
            return a;
        }
        let b = blocks.iter().find(|b| &b.addr == a).expect("known block");
        if kind(a) != "aws_iam_policy_document" {
            if let Some(t) = refs_of(&b.body).into_iter().find(|r| !is_sat(r)) {
                return &blocks
                    .iter()
                    .find(|x| x.addr == t)
                    .expect("known block")
                    .addr;
            }
        }
        match referrers.get(a).and_then(|v| v.first()) {
            Some(r) => owner(r, blocks, referrers, is_sat, depth + 1),
            None => a,
        }
    }
    // Types with many blocks (the SSM parameters) become one node.
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for b in &blocks {
        if !is_sat(&b.addr) {
            *counts.entry(kind(&b.addr)).or_default() += 1;
        }
    }
    let label = |a: &Address| -> String {
        let k = kind(a);
        if counts.get(k).copied().unwrap_or(0) > 3 {
            let n = counts[k];
            let prefix = if matches!(a, Address::Data { .. }) {
                "data."
            } else {
                ""
            };
            format!("{prefix}{k}.* ({n})")
        } else {
            a.to_string()
        }
    };
    let mut g = Graph::default();
    for b in &blocks {
        let o = owner(&b.addr, &blocks, &referrers, &is_sat, 0);
        let from = label(o);
        g.nodes.insert(id(&from), (from.clone(), false));
        if RULES.contains(&kind(&b.addr)) {
            let port = match b.body.get("from_port") {
                Some(Value::Int(p)) => p.to_string(),
                _ => "?".into(),
            };
            let peer = match (
                b.body.get("cidr_ipv4"),
                b.body.get("referenced_security_group_id"),
            ) {
                (Some(Value::Str(c)), _) => {
                    let name = if c == "0.0.0.0/0" {
                        "internet 0.0.0.0/0".to_string()
                    } else {
                        c.clone()
                    };
                    g.nodes.insert(id(&name), (name.clone(), true));
                    name
                }
                (Some(Value::Expr(_)), _) => "data.aws_vpc.default".to_string(),
                (_, Some(v)) => {
                    let mut rs = Vec::new();
                    v.refs(&mut rs);
                    rs.first().map(|r| label(&r.addr)).unwrap_or_default()
                }
                _ => continue,
            };
            let edge = format!("tcp {port}");
            if kind(&b.addr) == RULES[0] {
                g.edges.insert((id(&peer), id(&from), edge));
            } else {
                g.edges.insert((id(&from), id(&peer), edge));
            }
            continue;
        }
        for r in refs_of(&b.body) {
            let to = label(owner(
                blocks
                    .iter()
                    .find(|x| x.addr == r)
                    .map(|x| &x.addr)
                    .unwrap_or(&r),
                &blocks,
                &referrers,
                &is_sat,
                0,
            ));
            if to != from {
                g.nodes.insert(id(&to), (to.clone(), false));
                g.edges.insert((id(&from), id(&to), String::new()));
            }
        }
    }
    g
}

/// Render the diagram of one environment.
pub fn render(env: &str, stack: &Stack, format: GraphFormat) -> String {
    let g = build(stack);
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

/// Markers of a README block that `gen` keeps current: `<!-- gen graph ENV -->` ... `<!-- end gen graph -->`.
pub fn readme_marker(env: &str) -> String {
    format!("<!-- gen graph {env} -->")
}
pub const README_END: &str = "<!-- end gen graph -->";

/// Replace the graph block of `env` in a README; `None` when it has no such block.
pub fn update_readme(text: &str, env: &str, mermaid: &str) -> Option<String> {
    let start = text.find(&readme_marker(env))?;
    let body_start = start + readme_marker(env).len();
    let end = body_start + text[body_start..].find(README_END)?;
    Some(format!(
        "{}\n```mermaid\n{mermaid}```\n{}",
        &text[..body_start],
        &text[end..]
    ))
}
