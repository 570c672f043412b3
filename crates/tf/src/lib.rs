//! The Terraform document model of fastapi-infra.
//!
//! A [`Stack`] holds one environment's document. Modules add blocks to it and get typed
//! references ([`Ref`]) back; [`json::render`] writes the `.tf.json` files (the source of truth)
//! and [`hcl::render`] an HCL view of the same document.
//!
//! # Example
//!
//! ```
//! use tf::{Body, Stack, Value, Piece, Expr};
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
//! stack.check().unwrap();
//! let files = tf::json::render(&stack, "generated");
//! let main = &files.iter().find(|f| f.name == "main.tf.json").unwrap().contents;
//! assert!(main.contains(r#""vpc_id": "${data.aws_vpc.default.id}""#));
//! assert!(main.contains(r#""description": "App for $${USER}""#));
//! ```

pub mod body;
pub mod error;
pub mod hcl;
pub mod json;
pub mod lock;
pub mod stack;
pub mod value;

pub use body::{Body, Entry};
pub use error::{Error, Result};
pub use json::File;
pub use stack::{Block, Output, RequiredProvider, Stack, Variable};
pub use value::{Address, Expr, Piece, Ref, Value};
