//! The targets file: named targets (an interpreter, the module that plays
//! multiprocessing, where its expectations live, how to install it) and named
//! sets of them. `mpconform targets` lists it against what this machine has;
//! `mpconform setup` installs what is missing; `--target NAME` and `--set NAME`
//! pick from it.

use crate::driver::{interpreter_exists, DriverCommand};
use crate::target::{expand_home, Target};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The targets file the repository ships, used when none is given.
pub const DEFAULT_FILE: &str = "targets.toml";

#[derive(Debug, Error)]
pub enum CatalogueError {
    #[error("cannot read the targets file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("malformed targets file {path}: {message}")]
    Malformed { path: String, message: String },
    #[error("unknown target '{name}' (the targets file {path} has: {known})")]
    UnknownName {
        name: String,
        path: String,
        known: String,
    },
    #[error("unknown set '{name}' (the targets file {path} has: {known})")]
    UnknownSet {
        name: String,
        path: String,
        known: String,
    },
    #[error("setup of {target} failed: {command} ({status})")]
    Setup {
        target: String,
        command: String,
        status: String,
    },
}

/// One entry of the file, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    /// The interpreter: a path (`~` and one `*` per component allowed) or a
    /// program name looked up in PATH. Not with `venv`.
    python: Option<String>,
    /// A virtual environment of this name under the venvs directory; the
    /// interpreter is its `bin/python`.
    venv: Option<String>,
    /// The interpreter the virtual environment is made from.
    base: Option<String>,
    /// What `setup` installs into the virtual environment, pinned.
    #[serde(default)]
    pip: Vec<String>,
    /// The Debian package that provides the interpreter.
    apt: Option<String>,
    /// The `cargo install` arguments that build the interpreter (into
    /// cargo's bin directory): crate, `--version`, features, ...
    #[serde(default)]
    cargo: Vec<String>,
    /// Installed only when `mpconform setup NAME` names it (a build too slow
    /// for every CI run, such as RustPython's).
    #[serde(default)]
    on_request: bool,
    /// The module that plays multiprocessing (default multiprocessing).
    module: Option<String>,
    /// The expectations file, relative to the targets file (default
    /// `expectations/NAME.toml`).
    expectations: Option<String>,
    /// A line for people: what this target is.
    about: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    /// In the file's order (toml's preserve_order), which is the matrix's.
    targets: toml::Table,
    #[serde(default)]
    sets: BTreeMap<String, Vec<String>>,
}

/// A named target as this machine has it.
#[derive(Debug, Clone)]
pub struct Named {
    pub name: String,
    pub about: String,
    /// The interpreter, resolved (a glob's match, a venv's python).
    pub interpreter: String,
    pub module: Option<String>,
    pub expectations: PathBuf,
    /// Why it cannot run here, when it cannot.
    pub missing: Option<String>,
    entry: Entry,
}

impl Named {
    pub fn target(&self) -> Target {
        Target::Python(DriverCommand {
            interpreter: self.interpreter.clone(),
            module: self.module.clone(),
        })
    }

    pub fn present(&self) -> bool {
        self.missing.is_none()
    }
}

/// The targets file, resolved against this machine.
#[derive(Debug)]
pub struct Catalogue {
    pub path: PathBuf,
    pub targets: Vec<Named>,
    sets: BTreeMap<String, Vec<String>>,
}

/// Where virtual environments are made: `$MPCONFORM_VENVS`, else
/// `~/.local/share/mpconform/venvs`.
pub fn venvs_dir() -> PathBuf {
    match std::env::var_os("MPCONFORM_VENVS") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(expand_home("~/.local/share/mpconform/venvs")),
    }
}

/// The first path matching `pattern` (after `~`), or the pattern itself.
fn resolve_path(pattern: &str) -> String {
    let expanded = expand_home(pattern);
    if !expanded.contains('*') {
        return expanded;
    }
    let mut matches: Vec<PathBuf> = glob::glob(&expanded)
        .map(|paths| paths.flatten().collect())
        .unwrap_or_default();
    matches.sort();
    matches.pop().map_or(expanded, |p| p.display().to_string())
}

impl Catalogue {
    /// Reads the targets file at `path` (the repository's when None).
    pub fn load(path: Option<&Path>) -> Result<Catalogue, CatalogueError> {
        let path = path.map_or_else(default_path, Path::to_path_buf);
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(&path).map_err(|source| CatalogueError::Read {
            path: shown.clone(),
            source,
        })?;
        Catalogue::parse(&text, &path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Catalogue, CatalogueError> {
        let shown = path.display().to_string();
        let malformed = |message: String| CatalogueError::Malformed {
            path: shown.clone(),
            message,
        };
        let file: File = toml::from_str(text).map_err(|e| malformed(one_line(&e.to_string())))?;
        let base_dir = path.parent().unwrap_or(Path::new("."));
        let mut targets = Vec::new();
        for (name, value) in file.targets {
            let entry: Entry = value.try_into().map_err(|e: toml::de::Error| {
                malformed(format!("target '{name}': {}", one_line(&e.to_string())))
            })?;
            let interpreter = match (&entry.python, &entry.venv) {
                (Some(python), None) => resolve_path(python),
                (None, Some(venv)) => venvs_dir()
                    .join(venv)
                    .join("bin/python")
                    .display()
                    .to_string(),
                _ => {
                    return Err(malformed(format!(
                        "target '{name}' needs exactly one of `python` and `venv`"
                    )))
                }
            };
            let missing = if interpreter_exists(&interpreter) {
                None
            } else {
                let setup = if entry.on_request {
                    format!("`mpconform setup {name}`")
                } else {
                    "`mpconform setup`".to_string()
                };
                Some(match (&entry.apt, &entry.venv, entry.cargo.is_empty()) {
                    (Some(package), _, _) => {
                        format!("{interpreter} not found ({setup} installs apt package {package})")
                    }
                    (_, Some(_), _) => {
                        format!("{interpreter} not found ({setup} makes the virtual environment)")
                    }
                    (_, _, false) => format!(
                        "{interpreter} not found ({setup} builds it with cargo install {})",
                        entry.cargo.join(" ")
                    ),
                    _ => format!("{interpreter} not found"),
                })
            };
            let expectations = base_dir.join(
                entry
                    .expectations
                    .clone()
                    .unwrap_or_else(|| format!("expectations/{name}.toml")),
            );
            targets.push(Named {
                about: entry.about.clone().unwrap_or_default(),
                interpreter,
                module: entry.module.clone(),
                expectations,
                missing,
                name,
                entry,
            });
        }
        for (set, members) in &file.sets {
            if let Some(bad) = members
                .iter()
                .find(|m| !targets.iter().any(|t| &t.name == *m))
            {
                return Err(malformed(format!(
                    "set '{set}' names unknown target '{bad}'"
                )));
            }
        }
        Ok(Catalogue {
            path: path.to_path_buf(),
            targets,
            sets: file.sets,
        })
    }

    pub fn find(&self, name: &str) -> Result<&Named, CatalogueError> {
        self.targets
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| CatalogueError::UnknownName {
                name: name.to_string(),
                path: self.path.display().to_string(),
                known: self
                    .targets
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// The members of a set, in the file's order.
    pub fn set(&self, name: &str) -> Result<Vec<&Named>, CatalogueError> {
        let members = self
            .sets
            .get(name)
            .ok_or_else(|| CatalogueError::UnknownSet {
                name: name.to_string(),
                path: self.path.display().to_string(),
                known: self.sets.keys().cloned().collect::<Vec<_>>().join(", "),
            })?;
        members.iter().map(|m| self.find(m)).collect()
    }

    /// Installs the missing targets that say how: the apt package, the
    /// virtual environment and its pinned packages, the cargo build. With no
    /// names, every one not marked `on_request`; with names, those (checked
    /// first). `say` sees each step.
    pub fn setup(&self, names: &[String], say: &dyn Fn(&str)) -> Result<(), CatalogueError> {
        for name in names {
            self.find(name)?;
        }
        let wanted = |t: &&Named| {
            if names.is_empty() {
                !t.entry.on_request
            } else {
                names.contains(&t.name)
            }
        };
        for target in self.targets.iter().filter(wanted) {
            if target.present() {
                continue;
            }
            let entry = &target.entry;
            if !entry.cargo.is_empty() {
                let mut cargo = std::process::Command::new("cargo");
                cargo.arg("install").args(&entry.cargo);
                run_step(&target.name, say, cargo)?;
            }
            if let Some(package) = &entry.apt {
                let mut apt = std::process::Command::new("apt-get");
                apt.args(["install", "-y", "-q", package]);
                run_step(&target.name, say, apt)?;
            }
            if let Some(venv) = &entry.venv {
                let dir = venvs_dir().join(venv);
                let base = entry.base.clone().unwrap_or_else(|| "python3".into());
                let mut make = std::process::Command::new(resolve_path(&base));
                make.args(["-m", "venv"]).arg(&dir);
                run_step(&target.name, say, make)?;
                if !entry.pip.is_empty() {
                    let mut pip = std::process::Command::new(dir.join("bin/python"));
                    pip.args(["-m", "pip", "install", "-q"]).args(&entry.pip);
                    run_step(&target.name, say, pip)?;
                }
            }
            if entry.apt.is_none() && entry.venv.is_none() && entry.cargo.is_empty() {
                say(&format!(
                    "{}: missing, and the targets file says no way to install it",
                    target.name
                ));
            }
        }
        Ok(())
    }
}

fn run_step(
    target: &str,
    say: &dyn Fn(&str),
    mut command: std::process::Command,
) -> Result<(), CatalogueError> {
    let shown = format!("{command:?}").replace('"', "");
    say(&format!("{target}: {shown}"));
    let failed = |status: String| CatalogueError::Setup {
        target: target.to_string(),
        command: shown.clone(),
        status,
    };
    let status = command.status().map_err(|e| failed(e.to_string()))?;
    if !status.success() {
        return Err(failed(status.to_string()));
    }
    Ok(())
}

/// The repository's targets file: beside the current directory's, else
/// beside the source tree this binary was built from.
fn default_path() -> PathBuf {
    let here = PathBuf::from(DEFAULT_FILE);
    if here.is_file() {
        return here;
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(DEFAULT_FILE)
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
