//! The `gen` command: reads `envs/<name>.toml`, builds each environment's Terraform document
//! and writes `generated/<name>/`. See README.md for the workflow.

pub mod checkov;
pub mod commit;
pub mod config;
pub mod error;
pub mod graph;
pub mod lockfile;
pub mod output;
pub mod pr;
pub mod readme;
pub mod review;

use std::path::Path;

use aws::env::Env;
use tf::File;

use crate::config::InputError;
pub use crate::error::Error;

/// The output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `.tf.json`, the source of truth (committed under generated/).
    Json,
    /// `.tf` through hcl-rs: a view for readers, never committed.
    Hcl,
}

/// The command that regenerates an environment's files.
pub fn regenerate(env: &str) -> String {
    format!("cargo run -p gen -- --env {env}")
}

/// The comment at the top of every generated file.
pub fn header(env: &str) -> String {
    format!(
        "{} from envs/{env}.toml. Do not edit: run `{}`.",
        output::MARKER,
        regenerate(env)
    )
}

/// What gen knows about the provider its documents use: AWS, from the `aws` crate.
pub const PROVIDER: &tf::Schema = &aws::knowledge::AWS;

/// The env file of `name`, as messages name it: `envs/dev.toml`, or under `--envs-dir`.
pub fn env_file(envs_dir: &Path, name: &str) -> String {
    envs_dir.join(format!("{name}.toml")).display().to_string()
}

/// Build the files of one environment, checking the document first.
pub fn build(envs_dir: &Path, name: &str, format: Format) -> Result<Vec<File>, InputError> {
    let stack = stack(envs_dir, name)?;
    let header = header(name);
    Ok(match format {
        Format::Json => tf::json::render(&stack, &header),
        Format::Hcl => tf::hcl::render(&stack, &header),
    })
}

/// The checked Terraform document of one environment.
pub fn stack(envs_dir: &Path, name: &str) -> Result<tf::Stack, InputError> {
    let env = config::load(envs_dir, name)?;
    let stack = match &env {
        Env::App(cfg) => {
            config::check_unique(envs_dir, name, cfg)?;
            if envs_dir.join("bootstrap.toml").exists() {
                if let Env::Bootstrap(boot) = config::load(envs_dir, "bootstrap")? {
                    config::check_against_bootstrap(envs_dir, name, cfg, &boot)?;
                }
            }
            let stack = aws::stacks::app_stack(name, cfg, &regenerate(name));
            aws::rules::check_app(&stack)
                .map_err(|e| InputError(format!("{}: {e}", env_file(envs_dir, name))))?;
            stack
        }
        Env::Bootstrap(cfg) => aws::stacks::bootstrap_stack(name, cfg, &app_envs(envs_dir)?),
    };
    stack.check(PROVIDER).map_err(|e| {
        InputError(format!(
            "{}: the generated document is invalid: {e}",
            env_file(envs_dir, name)
        ))
    })?;
    Ok(stack)
}

/// The app contract of an app environment (checked like its stack: the contract must describe
/// what `gen` would generate).
pub fn contract(envs_dir: &Path, name: &str) -> Result<aws::contract::Contract, InputError> {
    stack(envs_dir, name)?;
    match config::load(envs_dir, name)? {
        Env::App(cfg) => Ok(aws::contract::Contract::new(name, &cfg)),
        Env::Bootstrap(_) => Err(InputError(format!(
            "{}: `{name}` is the state backend, it runs no app; fix: name an app environment (see --list)",
            env_file(envs_dir, name)
        ))),
    }
}

/// Every app environment of the envs folder (the CI roles bootstrap makes are per app env).
fn app_envs(envs_dir: &Path) -> Result<Vec<(String, aws::env::AppEnv)>, InputError> {
    let mut out = Vec::new();
    for name in config::list(envs_dir)? {
        if let Env::App(cfg) = config::load(envs_dir, &name)? {
            out.push((name, *cfg));
        }
    }
    Ok(out)
}
