//! `gen`: typed Rust descriptions of the fastapi-infra deployment, compiled to Terraform JSON.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use gen::{build, config, output, Format};

/// Generate the Terraform of fastapi-infra environments from envs/<name>.toml.
///
/// Exit status: 0 success, 1 `--check` found drift, 2 bad input or usage.
#[derive(Parser, Debug)]
#[command(name = "gen", version, about, long_about)]
struct Cli {
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
}

fn run(cli: Cli) -> Result<ExitCode, config::InputError> {
    if cli.list {
        for name in config::list(&cli.envs_dir)? {
            println!("{name}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let names = if cli.all {
        config::list(&cli.envs_dir)?
    } else if cli.envs.is_empty() {
        return Err(config::InputError(
            "no environment given; fix: pass --env <ENV> (see --list) or --all".into(),
        ));
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
        .map(|n| build(&cli.envs_dir, n, cli.format).map(|files| (n.clone(), files)))
        .collect::<Result<Vec<_>, _>>()?;
    if cli.check {
        let drift: Vec<_> = built
            .iter()
            .flat_map(|(n, files)| output::check_env(&out.join(n), files))
            .collect();
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
    for (name, files) in &built {
        let dir = out.join(name);
        let changed = output::write_env(&dir, files)?;
        println!(
            "{}: {} files, {changed} changed",
            dir.display(),
            files.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
