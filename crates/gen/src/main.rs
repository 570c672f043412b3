//! `gen`: typed Rust descriptions of the fastapi-infra deployment, compiled to Terraform JSON.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use gen::config::InputError;
use gen::graph::GraphFormat;
use gen::review::{self, Doc};
use gen::{build, config, output, Format};

/// Generate the Terraform of fastapi-infra environments from envs/<name>.toml.
///
/// Exit status: 0 success, 1 `--check` (or `diff`) found differences, 2 bad input or usage.
#[derive(Parser, Debug)]
#[command(
    name = "gen",
    version,
    about,
    long_about,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    #[command(flatten)]
    gen: GenArgs,
}

#[derive(Args, Debug)]
struct GenArgs {
    /// Environment to generate (repeatable): envs/<ENV>.toml gives <OUT>/<ENV>/.
    #[arg(short, long = "env", value_name = "ENV")]
    envs: Vec<String>,

    /// Generate every environment in the envs folder.
    #[arg(short, long, conflicts_with = "envs")]
    all: bool,

    /// List the environments and exit.
    #[arg(long)]
    list: bool,

    /// Write nothing; exit 1 and name each file that differs from what would be written.
    #[arg(long)]
    check: bool,

    /// Output folder [default: generated, or generated-hcl with --format hcl].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,

    /// Folder of the environment files.
    #[arg(long, value_name = "DIR", default_value = "envs")]
    envs_dir: PathBuf,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    format: Format,

    /// A README whose `<!-- gen graph ENV -->` blocks are kept current (skipped when absent).
    #[arg(long, value_name = "FILE", default_value = "README.md")]
    readme: PathBuf,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Summarize by Terraform address what regenerating would change against the committed
    /// output (or a git revision), flagging data loss and renames without a moved block.
    /// Exit 0: no changes; 1: changes.
    Diff(DiffArgs),
    /// Draw an environment's architecture (resources, references, security-group paths).
    Graph(GraphArgs),
}

#[derive(Args, Debug)]
struct DiffArgs {
    /// Environment to compare (repeatable) [default: every environment].
    #[arg(short, long = "env", value_name = "ENV")]
    envs: Vec<String>,
    /// Compare two environments with each other instead: how B differs from A.
    #[arg(long = "envs", num_args = 2, value_names = ["A", "B"], conflicts_with_all = ["envs", "base"])]
    pair: Option<Vec<String>>,
    /// Compare with the committed output at this git revision instead of the output folder.
    #[arg(long, value_name = "REV")]
    base: Option<String>,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
    /// Folder of the committed output.
    #[arg(long, value_name = "DIR", default_value = "generated")]
    out: PathBuf,
    /// Folder of the environment files.
    #[arg(long, value_name = "DIR", default_value = "envs")]
    envs_dir: PathBuf,
}

#[derive(Args, Debug)]
struct GraphArgs {
    /// The environment to draw.
    #[arg(short, long = "env", value_name = "ENV")]
    env: String,
    /// Diagram format.
    #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
    format: GraphFormat,
    /// Folder of the environment files.
    #[arg(long, value_name = "DIR", default_value = "envs")]
    envs_dir: PathBuf,
}

fn generate(cli: GenArgs) -> anyhow::Result<ExitCode> {
    if cli.list {
        for name in config::list(&cli.envs_dir)? {
            println!("{name}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let names = if cli.all {
        config::list(&cli.envs_dir)?
    } else if cli.envs.is_empty() {
        return Err(InputError(
            "no environment given; fix: pass --env <ENV> (see --list) or --all".into(),
        )
        .into());
    } else {
        cli.envs.clone()
    };
    let out = cli.out.clone().unwrap_or_else(|| match cli.format {
        Format::Json => PathBuf::from("generated"),
        Format::Hcl => PathBuf::from("generated-hcl"),
    });
    // Build everything first: bad input writes nothing at all.
    let built = names
        .iter()
        .map(|n| {
            build(&cli.envs_dir, n, cli.format)
                .map(|files| (n.clone(), files))
                .with_context(|| format!("cannot generate `{n}`"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let readme = readme_update(&cli, &names)?;
    if cli.check {
        let mut drift: Vec<_> = built
            .iter()
            .flat_map(|(n, files)| output::check_env(&out.join(n), files))
            .collect();
        for (n, files) in &built {
            drift.extend(gen::lockfile::check(n, &out.join(n), files));
        }
        if let Some((path, new)) = &readme {
            drift.push(output::Drift {
                path: path.clone(),
                what: format!("graph block differs from `gen graph` ({} bytes)", new.len()),
            });
        }
        if drift.is_empty() {
            println!("generated files are current ({} environments)", built.len());
            return Ok(ExitCode::SUCCESS);
        }
        for d in &drift {
            println!("{}: {}", d.path.display(), d.what);
        }
        eprintln!(
            "{} generated file(s) are stale; fix: run `cargo run -p gen -- --all` and commit",
            drift.len()
        );
        return Ok(ExitCode::from(1));
    }
    if cli.format == Format::Json {
        // A resource under a new address would be destroyed and recreated: demand a moved block.
        for (name, files) in &built {
            let dir = out.join(name);
            if !dir.is_dir() || output::check_env(&dir, files).is_empty() {
                continue; // nothing there before, or nothing changes: nothing was renamed
            }
            let old = Doc::from_dir(&out.join(name))?;
            let new = Doc::from_rendered(files)?;
            let missing = review::unmoved_renames(&old, &new);
            if !missing.is_empty() {
                let blocks: Vec<String> = missing
                    .iter()
                    .map(|r| format!("# {} is now {} ({})\n{}", r.from, r.to, r.why, r.toml()))
                    .collect();
                return Err(InputError(format!(
                    "envs/{name}.toml: {} resource(s) changed address; the next apply would destroy and recreate them. fix: add to envs/{name}.toml:\n\n{}\n",
                    missing.len(),
                    blocks.join("\n\n")
                ))
                .into());
            }
        }
    }
    for (name, files) in &built {
        let dir = out.join(name);
        let changed =
            output::write_env(&dir, files).with_context(|| format!("cannot write `{name}`"))?;
        println!(
            "{}: {} files, {changed} changed",
            dir.display(),
            files.len()
        );
    }
    if let Some((path, text)) = readme {
        std::fs::write(&path, text)
            .map_err(|e| InputError(format!("{}: cannot write ({e})", path.display())))?;
        println!("{}: graph updated", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// The README with its graph blocks regenerated, when that changes it.
fn readme_update(cli: &GenArgs, names: &[String]) -> Result<Option<(PathBuf, String)>, InputError> {
    if cli.format != Format::Json || cli.out.is_some() {
        return Ok(None);
    }
    let Ok(text) = std::fs::read_to_string(&cli.readme) else {
        return Ok(None);
    };
    let mut new = text.clone();
    for name in names {
        if new.contains(&gen::graph::readme_marker(name)) {
            let stack = gen::stack(&cli.envs_dir, name)?;
            let mermaid = gen::graph::render(name, &stack, GraphFormat::Mermaid);
            new = gen::graph::update_readme(&new, name, &mermaid).ok_or_else(|| {
                InputError(format!(
                    "{}: `{}` has no `{}` after it",
                    cli.readme.display(),
                    gen::graph::readme_marker(name),
                    gen::graph::README_END
                ))
            })?;
        }
    }
    Ok((new != text).then(|| (cli.readme.clone(), new)))
}

fn diff(args: DiffArgs) -> anyhow::Result<ExitCode> {
    if let Some(pair) = &args.pair {
        let doc = |n: &str| Doc::from_rendered(&build(&args.envs_dir, n, Format::Json)?);
        let d = review::diff_envs(&pair[0], &doc(&pair[0])?, &pair[1], &doc(&pair[1])?);
        if args.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&d).expect("serializable")
            );
        } else {
            print!("{}", d.render_text());
        }
        return Ok(if d.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    let names = if args.envs.is_empty() {
        config::list(&args.envs_dir)?
    } else {
        args.envs.clone()
    };
    let mut any = false;
    let mut text = String::new();
    let mut json = serde_json::Map::new();
    for name in &names {
        let new = Doc::from_rendered(&build(&args.envs_dir, name, Format::Json)?)
            .with_context(|| format!("cannot compare `{name}`"))?;
        let old = match &args.base {
            Some(rev) => Doc::from_git(rev, &Path::new(&args.out).join(name).to_string_lossy())?,
            None => Doc::from_dir(&args.out.join(name))?,
        };
        let changes = review::diff(&old, &new);
        any |= !changes.is_empty();
        review::render_text(name, &changes, &mut text);
        json.insert(
            name.clone(),
            serde_json::to_value(&changes).expect("serializable"),
        );
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json).expect("serializable")
        );
    } else {
        print!("{text}");
    }
    Ok(if any {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn graph(args: GraphArgs) -> anyhow::Result<ExitCode> {
    let stack = gen::stack(&args.envs_dir, &args.env)
        .with_context(|| format!("cannot draw `{}`", args.env))?;
    print!("{}", gen::graph::render(&args.env, &stack, args.format));
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Some(Cmd::Diff(a)) => diff(a),
        Some(Cmd::Graph(a)) => graph(a),
        None => generate(cli.gen),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // Every error here is bad input or an unusable folder: exit 2.
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
