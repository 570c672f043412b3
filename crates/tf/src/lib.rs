//! The Terraform document model of fastapi-infra.
//!
//! A [`Stack`] holds one environment's document. Modules add blocks to it and get typed
//! references ([`Ref`]) back. [`Stack::sections`] lists its files and blocks once;
//! [`json::render`] writes them as `.tf.json` files (the source of truth) and [`hcl::render`]
//! as an HCL view, both through hcl-rs's expression types ([`syntax`]). [`json::parse`] reads
//! generated files back into a [`Document`], keyed by address, for reviews and diagrams.
//! What the model needs to know about a provider comes in as data: a [`Schema`].
//!
//! # Example
//!
//! ```
//! use tf::{Body, Schema, Stack, Value, Piece, Expr};
//!
//! let mut stack = Stack::new(">= 1.11");
//! let vpc = stack.data("aws_vpc", "default", Body::new().attr("default", true));
//! let sg = stack.resource(
//!     "aws_security_group",
//!     "app",
//!     Body::new()
//!         .attr("vpc_id", vpc.attr("id"))
//!         // A literal: `${USER}` is escaped, never interpolated.
//!         .attr("description", "App for ${USER}"),
//! );
//! stack.output("sg_id", "The app's security group", sg.attr("id"));
//! stack.check(&Schema::EMPTY).unwrap();
//! let files = tf::json::render(&stack, "generated");
//! let main = &files.iter().find(|f| f.name == "main.tf.json").unwrap().contents;
//! assert!(main.contains(r#""vpc_id": "${data.aws_vpc.default.id}""#));
//! assert!(main.contains(r#""description": "App for $${USER}""#));
//! ```

pub mod body;
pub mod document;
pub mod error;
pub mod hcl;
pub mod json;
pub mod lock;
pub mod schema;
pub mod stack;
pub mod syntax;
pub mod value;

pub use body::{Body, Entry};
pub use document::{Document, Key};
pub use error::{Error, Result};
pub use json::File;
pub use schema::Schema;
pub use stack::{Block, Output, RequiredProvider, Stack, Variable};
pub use value::{Address, Expr, Op, Piece, Ref, Value};
