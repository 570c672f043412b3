//! The HCL view: the same [sections](crate::document) as the JSON, as `.tf` files written by
//! hcl-rs, for readers. JSON stays the source of truth.

use hcl::structure::{Attribute, Block as HBlock, Body as HBody};

use crate::body::{Body, Entry};
use crate::document::TopBlock;
use crate::json::File;
use crate::stack::Stack;
use crate::syntax::expression;

fn body(b: &Body) -> HBody {
    let mut out = HBody::builder();
    for (k, e) in &b.entries {
        match e {
            Entry::Attr(v) => out = out.add_attribute(Attribute::new(k.as_str(), expression(v))),
            Entry::Blocks(bs) => {
                for nb in bs {
                    out =
                        out.add_block(HBlock::builder(k.as_str()).add_structures(body(nb)).build());
                }
            }
            Entry::Labeled(bs) => {
                for (label, nb) in bs {
                    out = out.add_block(
                        HBlock::builder(k.as_str())
                            .add_label(label.as_str())
                            .add_structures(body(nb))
                            .build(),
                    );
                }
            }
        }
    }
    out.build()
}

fn block(b: &TopBlock) -> HBlock {
    HBlock::builder(b.ty.keyword())
        .add_labels(b.labels.iter().map(String::as_str))
        .add_structures(body(&b.body))
        .build()
}

/// Render the document as `.tf` files (the same sections as the JSON) plus its extra files.
pub fn render(stack: &Stack, header: &str) -> Vec<File> {
    let mut files: Vec<File> = stack
        .sections()
        .iter()
        .map(|s| {
            let text = hcl::format::to_string(
                &HBody::builder()
                    .add_blocks(s.blocks.iter().map(block))
                    .build(),
            )
            .expect("formatting into memory cannot fail");
            File {
                name: format!("{}.tf", s.name),
                contents: format!("# {header}\n\n{text}"),
            }
        })
        .collect();
    files.extend(stack.files.iter().map(|(name, contents)| File {
        name: name.clone(),
        contents: contents.clone(),
    }));
    files
}
