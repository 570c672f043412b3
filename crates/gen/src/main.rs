//! `gen`: typed Rust descriptions of the fastapi-infra deployment, compiled to Terraform JSON.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use gen::config::InputError;
use gen::graph::GraphFormat;
use gen::review;
use gen::{build, commit, config, env_file, output, readme, Format, PROVIDER};
use tf::Document;

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

    /// A README whose `<!-- gen graph ENV -->` blocks are kept current [default: README.md when
    /// the output folder is the default one; skipped when that file is absent].
    #[arg(long, value_name = "FILE", conflicts_with = "no_readme")]
    readme: Option<PathBuf>,

    /// Leave the README alone.
    #[arg(long)]
    no_readme: bool,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Summarize by Terraform address what regenerating would change against the committed
    /// output (or a git revision), flagging data loss and renames without a moved block.
    /// Exit 0: no changes; 1: changes.
    Diff(DiffArgs),
    /// Draw an environment's architecture (resources, references, security-group paths).
    Graph(GraphArgs),
    /// The pull request comment of one environment (Markdown, at most 65,536 characters): the
    /// changes with `diff`'s flags, the plan's actions cross-checked against them (--plan), and
    /// the base and head commits. Exit 0: no mismatch; 1: the plan disagrees with the flags.
    Review(ReviewArgs),
    /// What the host gives an app environment's FastAPI app and expects from it: the port, the
    /// ASGI and health paths, where requirements.txt must be, every environment variable (its
    /// meaning, whether it is a secret), AWS credentials and database TLS.
    Contract(ContractArgs),
}

#[derive(Args, Debug)]
struct ContractArgs {
    /// The app environment.
    #[arg(short, long = "env", value_name = "ENV")]
    env: String,
    /// Machine-readable output (what generated/<ENV>/app_contract.json holds).
    #[arg(long)]
    json: bool,
    /// Folder of the environment files.
    #[arg(long, value_name = "DIR", default_value = "envs")]
    envs_dir: PathBuf,
}

#[derive(Args, Debug)]
struct ReviewArgs {
    /// The environment to review.
    #[arg(short, long = "env", value_name = "ENV")]
    env: String,
    /// The plan of the change: `terraform show -json tfplan` (its values are never printed).
    #[arg(long, value_name = "FILE")]
    plan: Option<PathBuf>,
    /// Compare with the committed output at this git revision (the pull request's base)
    /// instead of the output folder.
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
    let timeout = commit::lock_timeout()?;
    // Everything on disk is read under the lock (see commit.rs for the protocol).
    let _lock = commit::lock(&out, !cli.check, timeout)?;
    let readme = readme_path(&cli)?;
    if cli.check {
        return check(&cli, &out, &names, &built, readme.as_deref());
    }
    recover(&out, readme.as_deref())?;
    let mut changes = Vec::new();
    let mut counts = Vec::new();
    for (name, files) in &built {
        let planned = output::plan_env(&out.join(name), files)
            .with_context(|| format!("cannot write `{name}`"))?;
        if cli.format == Format::Json && !planned.is_empty() {
            rename_guard(&out.join(name), &env_file(&cli.envs_dir, name), files)?;
        }
        counts.push(planned.len());
        changes.extend(planned);
    }
    let readme_change = match &readme {
        Some(path) => readme_update(path, &cli, &names)?,
        None => None,
    };
    changes.extend(readme_change.clone());
    commit::commit(&out, &changes, commit::fsync_wanted())?;
    for ((name, files), changed) in built.iter().zip(counts) {
        println!(
            "{}: {} files, {changed} changed",
            out.join(name).display(),
            files.len()
        );
    }
    if let (Some(path), Some(_)) = (readme, readme_change) {
        println!("{}: generated blocks updated", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// A resource under a new address would be destroyed and recreated: demand a moved block.
fn rename_guard(dir: &Path, env_file: &str, files: &[tf::File]) -> Result<(), InputError> {
    let committed = output::committed(dir);
    if committed.is_empty() {
        return Ok(()); // nothing there before: nothing was renamed
    }
    let old = review::read_files(committed.iter().map(|(n, t)| (n.as_str(), t.as_str())))?;
    let new = review::read_rendered(files)?;
    let missing = review::unmoved_renames(&old, &new, PROVIDER);
    if missing.is_empty() {
        return Ok(());
    }
    let blocks: Vec<String> = missing
        .iter()
        .map(|r| format!("# {} is now {} ({})\n{}", r.from, r.to, r.why, r.toml()))
        .collect();
    Err(InputError(format!(
        "{env_file}: {} resource(s) changed address; the next apply would destroy and recreate them. fix: add to {env_file}:\n\n{}\n",
        missing.len(),
        blocks.join("\n\n")
    )))
}

/// Finish what an interrupted run left (its journal, its temp files), and say so.
fn recover(out: &Path, readme: Option<&Path>) -> Result<(), gen::Error> {
    if let Some(done) = commit::recover(out)? {
        eprintln!(
            "gen: finished the commit of an interrupted run: {} file(s) replaced, {} removed",
            done.replaced, done.removed
        );
        for p in &done.skipped {
            eprintln!(
                "gen: left {} as it is: it changed after the interrupted run read it",
                p.display()
            );
        }
    }
    let swept: usize = temp_folders(out, readme)
        .iter()
        .map(|(dir, prefix)| commit::sweep(dir, prefix.as_deref()))
        .sum();
    if swept > 0 {
        eprintln!("gen: removed {swept} temp file(s) left by an interrupted run");
    }
    Ok(())
}

/// Where temp files of a run can be: the output folder, each folder in it, and the README's
/// folder (only the README's temp files there).
fn temp_folders(out: &Path, readme: Option<&Path>) -> Vec<(PathBuf, Option<String>)> {
    let mut dirs = vec![(out.to_path_buf(), None)];
    for e in std::fs::read_dir(out).into_iter().flatten().flatten() {
        if e.path().is_dir() {
            dirs.push((e.path(), None));
        }
    }
    if let Some(r) = readme.and_then(|r| r.canonicalize().ok()) {
        let name = r.file_name().unwrap_or_default().to_string_lossy();
        let prefix = format!(".{name}.");
        dirs.push((
            r.parent().unwrap_or(Path::new(".")).to_path_buf(),
            Some(prefix),
        ));
    }
    dirs
}

/// `--check`: name each file that differs from what would be written, and what an interrupted
/// run left.
fn check(
    cli: &GenArgs,
    out: &Path,
    names: &[String],
    built: &[(String, Vec<tf::File>)],
    readme: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let mut drift: Vec<_> = built
        .iter()
        .flat_map(|(n, files)| output::check_env(&out.join(n), files))
        .collect();
    for (n, files) in built {
        drift.extend(gen::lockfile::check(n, &out.join(n), files));
    }
    if let Some(path) = readme {
        if let Some(c) = readme_update(path, cli, names)? {
            drift.push(output::Drift {
                path: path.to_path_buf(),
                what: format!(
                    "a generated block (`gen graph`, `gen contract`, checkov) differs ({} bytes)",
                    c.new.map(|(b, _)| b.len()).unwrap_or(0)
                ),
            });
        }
    }
    if let Some(j) = commit::pending(out) {
        drift.push(output::Drift {
            path: j,
            what: "the commit of an interrupted run (the next gen run finishes it)".into(),
        });
    }
    for (dir, prefix) in temp_folders(out, readme) {
        for p in commit::leftovers(&dir, prefix.as_deref()) {
            drift.push(output::Drift {
                path: p,
                what: "a temp file of an interrupted run (the next gen run removes it)".into(),
            });
        }
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
    Ok(ExitCode::from(1))
}

/// The README this run keeps current: `--readme`, else README.md when the output folder is the
/// default one and the file exists; none with `--no-readme` or `--format hcl`.
fn readme_path(cli: &GenArgs) -> Result<Option<PathBuf>, InputError> {
    if cli.no_readme || cli.format != Format::Json {
        return Ok(None);
    }
    match &cli.readme {
        Some(p) if !p.is_file() => Err(InputError(format!(
            "{}: no such file (--readme); fix: name the README to keep current, or pass --no-readme",
            p.display()
        ))),
        Some(p) => Ok(Some(p.clone())),
        None if cli.out.is_some() => Ok(None),
        None => Ok(Some(PathBuf::from("README.md")).filter(|p| p.exists())),
    }
}

/// The README with its graph blocks regenerated, as a change, when that changes it. Its markers
/// must be well-formed (see `readme::blocks`).
fn readme_update(
    path: &Path,
    cli: &GenArgs,
    names: &[String],
) -> Result<Option<commit::Change>, InputError> {
    // A link is followed: the file it names is the one replaced.
    let real = path.canonicalize().map_err(|e| {
        InputError(format!(
            "{}: cannot read ({e}); fix: name an existing README with --readme, or pass --no-readme",
            path.display()
        ))
    })?;
    let read_err = |e: std::io::Error| InputError(format!("{}: cannot read ({e})", path.display()));
    let bytes = std::fs::read(&real).map_err(read_err)?;
    let mode = std::fs::metadata(&real)
        .map_err(read_err)?
        .permissions()
        .mode()
        & 0o7777;
    let text = String::from_utf8(bytes.clone()).map_err(|_| {
        InputError(format!(
            "{}: not UTF-8 text; fix: restore it (git checkout) or pass --no-readme",
            path.display()
        ))
    })?;
    let known = config::list(&cli.envs_dir)?;
    let new = readme::update(path, &text, &known, names, |kind, name| match kind {
        readme::Kind::Graph => {
            let doc = Document::from_stack(&gen::stack(&cli.envs_dir, name)?);
            Ok(readme::mermaid_block(&gen::graph::render(
                name,
                &doc,
                PROVIDER,
                GraphFormat::Mermaid,
            )))
        }
        readme::Kind::Contract => Ok(gen::contract(&cli.envs_dir, name)?.markdown()),
    })?;
    let dir = real.parent().unwrap_or(Path::new("."));
    let new = gen::checkov::update(path, dir, &new)?;
    Ok((new != text).then(|| commit::Change {
        target: real,
        new: Some((new.into_bytes(), mode)),
        old: Some(commit::Old { bytes, mode }),
    }))
}

fn diff(args: DiffArgs) -> anyhow::Result<ExitCode> {
    if let Some(pair) = &args.pair {
        let doc = |n: &str| review::read_rendered(&build(&args.envs_dir, n, Format::Json)?);
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
        let new = review::read_rendered(&build(&args.envs_dir, name, Format::Json)?)
            .with_context(|| format!("cannot compare `{name}`"))?;
        let old = match &args.base {
            Some(rev) => review::read_git(rev, &Path::new(&args.out).join(name).to_string_lossy())?,
            None => review::read_dir(&args.out.join(name))?,
        };
        let changes = review::diff(&old, &new, PROVIDER);
        any |= !changes.is_empty();
        review::render_text(name, &env_file(&args.envs_dir, name), &changes, &mut text);
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

/// A commit id, or `what` when git cannot name one.
fn commit_of(rev: &str, what: &str) -> String {
    std::process::Command::new("git")
        .args([
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| what.to_string())
}

fn review_cmd(args: ReviewArgs) -> anyhow::Result<ExitCode> {
    let name = &args.env;
    let new = review::read_rendered(&build(&args.envs_dir, name, Format::Json)?)
        .with_context(|| format!("cannot review `{name}`"))?;
    let (old, base) = match &args.base {
        Some(rev) => (
            review::read_git(rev, &args.out.join(name).to_string_lossy())?,
            commit_of(rev, rev),
        ),
        None => (
            review::read_dir(&args.out.join(name))?,
            format!("{} (working tree)", commit_of("HEAD", "unknown")),
        ),
    };
    let changes = review::diff(&old, &new, PROVIDER);
    let plan = match &args.plan {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| InputError(format!("{}: cannot read ({e})", p.display())))?;
            Some(gen::pr::plan_actions(&text)?)
        }
        None => None,
    };
    let follows = gen::pr::dependents(&new, &changes);
    let mismatches = plan
        .as_deref()
        .map(|p| gen::pr::cross_check(&changes, &follows, p))
        .unwrap_or_default();
    let r = gen::pr::Review {
        env: name,
        base,
        head: commit_of("HEAD", "unknown"),
        changes: &changes,
        follows,
        plan,
        mismatches,
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&r).expect("serializable")
        );
    } else {
        print!("{}", r.markdown());
    }
    Ok(if r.mismatches.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn graph(args: GraphArgs) -> anyhow::Result<ExitCode> {
    let stack = gen::stack(&args.envs_dir, &args.env)
        .with_context(|| format!("cannot draw `{}`", args.env))?;
    let doc = Document::from_stack(&stack);
    print!(
        "{}",
        gen::graph::render(&args.env, &doc, PROVIDER, args.format)
    );
    Ok(ExitCode::SUCCESS)
}

fn contract(args: ContractArgs) -> anyhow::Result<ExitCode> {
    let c = gen::contract(&args.envs_dir, &args.env)
        .with_context(|| format!("cannot state the contract of `{}`", args.env))?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&c.to_json()).expect("serializable")
        );
    } else {
        println!(
            "# The app contract of `{}` ({})\n",
            args.env,
            env_file(&args.envs_dir, &args.env)
        );
        print!("{}", c.markdown());
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Some(Cmd::Contract(a)) => contract(a),
        Some(Cmd::Diff(a)) => diff(a),
        Some(Cmd::Graph(a)) => graph(a),
        Some(Cmd::Review(a)) => review_cmd(a),
        None => generate(cli.gen),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // Bad input, a file or folder that cannot be read or written, git: exit 2.
            eprintln!("error: {e:#}");
            ExitCode::from(
                e.downcast_ref::<gen::Error>()
                    .map_or(2, gen::Error::exit_code),
            )
        }
    }
}
