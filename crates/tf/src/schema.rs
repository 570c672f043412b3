//! What the tools need to know about a provider's resource types beyond the document itself.
//!
//! Terraform keeps part of it in the provider's schema (which attributes are sensitive, which
//! force a replacement); the rest is how a review and a diagram should treat a type (what a
//! destroy costs, which attribute names the real object, which blocks are parts of another).
//! The provider's crate supplies it as data (`aws::knowledge::AWS`); `tf` and `gen` name no
//! provider type.

/// Knowledge about a provider: one entry per resource or data source type it needs to explain.
#[derive(Clone, Copy, Debug)]
pub struct Schema {
    pub types: &'static [ResourceType],
}

impl Schema {
    /// A provider nothing is known about.
    pub const EMPTY: Schema = Schema { types: &[] };

    pub fn get(&self, kind: &str) -> Option<&'static ResourceType> {
        self.types.iter().find(|t| t.kind == kind)
    }

    /// True when the provider marks `kind.attr` sensitive.
    pub fn is_sensitive(&self, kind: &str, attr: &str) -> bool {
        self.get(kind).is_some_and(|t| t.sensitive.contains(&attr))
    }

    /// What a change of the top-level attribute `attr` of a `kind` does, when it needs care.
    pub fn change(&self, kind: &str, attr: &str) -> Option<&'static Change> {
        self.get(kind)?
            .changes
            .iter()
            .find(|c| c.attrs.contains(&attr))
    }

    /// How a diagram draws a `kind`.
    pub fn drawn(&self, kind: &str) -> Drawn {
        self.get(kind).map_or(Drawn::Node, |t| t.drawn)
    }
}

/// One resource (or data source) type.
#[derive(Clone, Copy, Debug)]
pub struct ResourceType {
    /// `aws_s3_bucket`.
    pub kind: &'static str,
    /// Attributes the provider marks sensitive: an output showing one must be sensitive too.
    pub sensitive: &'static [&'static str],
    /// Attributes whose change needs care, and why.
    pub changes: &'static [Change],
    /// What destroying one loses, when it loses data or service.
    pub destroy: Option<&'static str>,
    /// Where the name of the real object is: two addresses with the same one are one object.
    pub identity: Option<Identity>,
    /// How a diagram draws it.
    pub drawn: Drawn,
}

impl ResourceType {
    /// A type with nothing to say about it yet; fill in the fields that apply.
    pub const fn new(kind: &'static str) -> Self {
        ResourceType {
            kind,
            sensitive: &[],
            changes: &[],
            destroy: None,
            identity: None,
            drawn: Drawn::Node,
        }
    }

    /// The same knowledge for another type (types that are alike, such as a bucket's parts).
    pub const fn named(self, kind: &'static str) -> Self {
        ResourceType { kind, ..self }
    }
}

/// A change of one of `attrs` and what it does to the real object.
#[derive(Clone, Copy, Debug)]
pub struct Change {
    pub attrs: &'static [&'static str],
    pub note: &'static str,
    /// The change reaches the running object only when it is replaced
    /// (`terraform apply -replace=ADDRESS`).
    pub applies_on_replace: bool,
}

/// The attribute (a path of object keys) that holds the real object's name, and what to call it
/// in a message: `bucket`, `Name tag`.
#[derive(Clone, Copy, Debug)]
pub struct Identity {
    pub path: &'static [&'static str],
    pub label: &'static str,
}

/// How a diagram draws a type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Drawn {
    /// A node of its own.
    Node,
    /// Part of the block it refers to (a bucket's versioning is drawn as the bucket).
    PartOfReferenced,
    /// Part of the block that refers to it (a policy document, drawn as its user).
    PartOfReferrer,
    /// A network rule of the block it refers to, drawn as an edge.
    Rule(Rule),
}

/// Where a network rule's parts are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    pub direction: Direction,
    /// The attribute with the port.
    pub port: &'static str,
    /// The attribute with the peer's CIDR block.
    pub cidr: &'static str,
    /// The attribute with a reference to the peer.
    pub peer: &'static str,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// From the peer to the rule's owner.
    Ingress,
    /// From the rule's owner to the peer.
    Egress,
}
