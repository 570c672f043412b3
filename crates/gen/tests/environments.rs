//! One insta snapshot per environment file (insta's glob!): the inventory a reviewer reads
//! first (every address, variable and output, and the backend), so adding `staging` is one
//! new env file plus one new snapshot. The full files are in generated/, checked by --check.

#[test]
fn inventory_of_every_environment() {
    insta::glob!("../../../envs", "*.toml", |path| {
        let name = path.file_stem().unwrap().to_str().unwrap();
        let envs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../envs");
        let files = gen::build(&envs, name, gen::Format::Json).unwrap();
        let mut inv = Vec::new();
        for f in &files {
            if !f.name.ends_with(".json") {
                inv.push(format!(
                    "file {} ({} lines)",
                    f.name,
                    f.contents.lines().count()
                ));
                continue;
            }
            let v: serde_json::Value = serde_json::from_str(&f.contents).unwrap();
            for (section, body) in v.as_object().unwrap() {
                match section.as_str() {
                    "resource" | "data" => {
                        for (kind, blocks) in body.as_object().unwrap() {
                            for name in blocks.as_object().unwrap().keys() {
                                let prefix = if section == "data" { "data." } else { "" };
                                inv.push(format!("{prefix}{kind}.{name}"));
                            }
                        }
                    }
                    "variable" | "output" => {
                        for (n, b) in body.as_object().unwrap() {
                            let s = if b.get("sensitive") == Some(&serde_json::Value::Bool(true)) {
                                " (sensitive)"
                            } else {
                                ""
                            };
                            inv.push(format!("{section}.{n}{s}"));
                        }
                    }
                    "terraform" => inv.push(format!("terraform {}", body)),
                    _ => {}
                }
            }
        }
        insta::assert_snapshot!(inv.join("\n"));
    });
}
