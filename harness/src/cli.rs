//! The `mpconform` command line.

use crate::bench_transfer::Carrier;
use crate::catalogue::Catalogue;
use crate::error::HarnessError;
use crate::expectations::Expectations;
use crate::report;
use crate::runner::{self, Plan};
use crate::select::{select, Partition};
use crate::target::{Target, TargetError};
use clap::{Parser, Subcommand, ValueEnum};
use mpconform_ref::Fault;
use mpconform_spec::clauses;
use serde::Serialize;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "mpconform",
    version,
    about = "Conformance suite for the process semantics of Python's multiprocessing"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Human,
    Json,
}

/// How a run's verdicts are printed.
#[derive(Clone, Copy, ValueEnum)]
enum RunFormat {
    Human,
    Json,
    /// JUnit XML, one test case per clause run.
    Junit,
}

#[derive(Clone, Copy, ValueEnum)]
enum MatrixFormat {
    Markdown,
    Json,
    /// JUnit XML, one test suite per target.
    Junit,
}

#[derive(Subcommand)]
enum Command {
    /// List the clauses: id, behaviours, seeds and statement.
    List {
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
    },
    /// List the reference implementation's fault switches.
    Faults {
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
    },
    /// Run clauses against a target and print the verdicts.
    Run {
        #[command(flatten)]
        against: Against,
        /// Run only this clause (repeatable).
        #[arg(long = "clause")]
        clauses: Vec<String>,
        /// Run only the clauses covering this behaviour id (repeatable).
        #[arg(long = "behaviour")]
        behaviours: Vec<String>,
        /// Run only under this start method (repeatable; default: each the
        /// target has).
        #[arg(long = "method")]
        methods: Vec<String>,
        /// Clauses run at once (default: the number of CPUs).
        #[arg(short = 'j', long = "jobs")]
        jobs: Option<usize>,
        #[arg(long, value_enum, default_value = "human")]
        format: RunFormat,
        /// The target's expectations (default: a named target's file from
        /// the targets file; none for others).
        #[arg(long)]
        expectations: Option<std::path::PathBuf>,
        /// Run shard K of N (`K/N`): every N-th clause from the K-th.
        #[arg(long)]
        partition: Option<String>,
    },
    /// Every clause against every target: a table of verdicts weighed
    /// against each target's expectations.
    Matrix {
        /// A target, by name from the targets file or as python:INTERPRETER
        /// (repeatable; default: the file's `all` set).
        #[arg(long = "target")]
        targets: Vec<String>,
        /// A named set of targets from the targets file (repeatable).
        #[arg(long = "set")]
        sets: Vec<String>,
        /// The targets file (default: the repository's targets.toml).
        #[arg(long = "targets")]
        targets_file: Option<std::path::PathBuf>,
        /// Run only this clause (repeatable).
        #[arg(long = "clause")]
        clauses: Vec<String>,
        /// Run only the clauses covering this behaviour id (repeatable).
        #[arg(long = "behaviour")]
        behaviours: Vec<String>,
        /// Run only under this start method (repeatable; default: each
        /// target's own).
        #[arg(long = "method")]
        methods: Vec<String>,
        /// Run shard K of N (`K/N`): every N-th clause from the K-th.
        #[arg(long)]
        partition: Option<String>,
        /// Clauses run at once (default: twice the number of CPUs: most of
        /// a clause's time is spent waiting for interpreters).
        #[arg(short = 'j', long = "jobs")]
        jobs: Option<usize>,
        /// Each clause's time limit, in seconds.
        #[arg(long, default_value_t = 10.0, allow_negative_numbers = true)]
        timeout: f64,
        #[arg(long, value_enum, default_value = "markdown")]
        format: MatrixFormat,
        /// Also write the matrix as a page a person can open.
        #[arg(long)]
        html: Option<std::path::PathBuf>,
    },
    /// Print a standalone Python script that replays a clause on a target,
    /// each reply beside the reference implementation's.
    Repro {
        /// The clause id.
        clause: String,
        #[command(flatten)]
        against: Against,
        /// Replay the clause's run under this start method (repeatable; the
        /// first that does not pass is replayed).
        #[arg(long = "method")]
        methods: Vec<String>,
    },
    /// List the targets file's targets and whether this machine has them.
    Targets {
        #[arg(long = "targets")]
        targets_file: Option<std::path::PathBuf>,
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
    },
    /// Install the targets this machine lacks (apt packages, virtual
    /// environments with pinned packages).
    Setup {
        /// Only these targets (default: every one not marked `on_request`).
        names: Vec<String>,
        #[arg(long = "targets")]
        targets_file: Option<std::path::PathBuf>,
    },
    /// Time one process lifecycle: raw system calls, the reference
    /// implementation and CPython, side by side.
    Bench {
        /// Lifecycles per measure.
        #[arg(long, default_value_t = 500)]
        iterations: u32,
        /// Items carried per Queue and Pipe measure.
        #[arg(long, default_value_t = 100_000)]
        items: usize,
        /// Runs of each Queue and Pipe measure; the median is shown.
        #[arg(long, default_value_t = 3)]
        repeat: usize,
        /// The CPython to compare with (default: pyenv's 3.13.0).
        #[arg(long)]
        python: Option<std::path::PathBuf>,
    },
    /// Fuzz queue ordering and task accounting with generated workloads,
    /// checked against a model; prints a minimal failing program.
    Fuzz {
        #[command(flatten)]
        against: Against,
        /// Cases of each kind (sequential and concurrent).
        #[arg(long, default_value_t = 64)]
        cases: u32,
        /// Where failing seeds are kept and replayed from.
        #[arg(long, default_value = "mpconform-fuzz-seeds.txt")]
        seeds: String,
        /// Fuzz under this start method (repeatable; default: fork).
        #[arg(long = "method")]
        methods: Vec<String>,
    },
    /// Fuzz in this process (`fuzz` re-executes itself with it, in a process
    /// group of its own).
    #[command(name = "__fuzz", hide = true)]
    FuzzHere {
        #[command(flatten)]
        against: Against,
        #[arg(long)]
        cases: u32,
        #[arg(long)]
        seeds: String,
        #[arg(long = "method")]
        methods: Vec<String>,
    },
    /// Run one clause in this process (the runner re-executes itself with
    /// it, and names the clause in the environment).
    #[command(name = "__clause", hide = true)]
    Clause {
        #[command(flatten)]
        against: Against,
    },
}

/// What clauses run against, and for how long at most: shared by `run` and
/// the clause process it starts.
#[derive(clap::Args)]
struct Against {
    /// The implementation: 'ref', 'loopback:ref', 'python:INTERPRETER',
    /// 'driver:COMMAND' (any program that speaks drivers/PROTOCOL.md) or a
    /// name from the targets file.
    #[arg(long, default_value = "ref")]
    target: String,
    /// With a python: target, the module that plays multiprocessing
    /// (billiard, multiprocess, ...).
    #[arg(long)]
    module: Option<String>,
    /// The targets file that names targets (default: the repository's
    /// targets.toml).
    #[arg(long = "targets")]
    targets_file: Option<std::path::PathBuf>,
    /// Switch on one fault of the reference implementation.
    #[arg(long)]
    fault: Option<String>,
    /// Each clause's time limit, in seconds.
    #[arg(long, default_value_t = 10.0, allow_negative_numbers = true)]
    timeout: f64,
}

impl Against {
    fn resolve(&self) -> Result<(Target, Duration), HarnessError> {
        let target = match Target::parse(&self.target, self.module.as_deref()) {
            Ok(target) => target,
            Err(TargetError::Unknown(name)) if self.module.is_none() => {
                let catalogue = Catalogue::load(self.targets_file.as_deref())?;
                catalogue.find(&name)?.target()
            }
            Err(e) => return Err(e.into()),
        };
        match &target {
            Target::Python(command) if !crate::driver::interpreter_exists(&command.interpreter) => {
                return Err(TargetError::NoInterpreter(command.interpreter.clone()).into());
            }
            Target::Driver(argv) if !crate::driver::interpreter_exists(&argv[0]) => {
                return Err(TargetError::NoDriver(argv[0].clone()).into());
            }
            _ => {}
        }
        let fault = self
            .fault
            .as_deref()
            .map(|name| {
                Fault::from_name(name).ok_or_else(|| HarnessError::UnknownFault(name.into()))
            })
            .transpose()?;
        let target = target.with_fault(fault)?;
        let limit = match Duration::try_from_secs_f64(self.timeout) {
            Ok(limit) if !limit.is_zero() => limit,
            _ => return Err(HarnessError::BadTimeout(self.timeout)),
        };
        Ok((target, limit))
    }

    /// The same choice, as arguments for a re-executed process.
    fn as_args(&self) -> Vec<String> {
        let mut args = vec![
            "--target".to_string(),
            self.target.clone(),
            "--timeout".into(),
            self.timeout.to_string(),
        ];
        if let Some(module) = &self.module {
            args.extend(["--module".to_string(), module.clone()]);
        }
        if let Some(fault) = &self.fault {
            args.extend(["--fault".to_string(), fault.clone()]);
        }
        args
    }
}

/// Runs the command line; usage errors give one line and status 2.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let rendered = e.render().to_string();
            eprintln!("{}", rendered.lines().next().unwrap_or("error: bad usage"));
            return ExitCode::from(2);
        }
    };
    match dispatch(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(if e.is_usage() { 2 } else { 3 })
        }
    }
}

/// Prints to standard output; a reader that went away (`| head`) is not an
/// error worth a panic, and the run's exit status still tells its verdicts.
fn say(text: std::fmt::Arguments) {
    let _ = std::io::stdout().lock().write_fmt(text);
}

fn dispatch(command: Command) -> Result<ExitCode, HarnessError> {
    match command {
        Command::List { format } => {
            print_list(format);
            Ok(ExitCode::SUCCESS)
        }
        Command::Faults { format } => {
            print_faults(format);
            Ok(ExitCode::SUCCESS)
        }
        Command::Run {
            against,
            clauses,
            behaviours,
            methods,
            jobs,
            format,
            expectations,
            partition,
        } => {
            let (target, limit) = against.resolve()?;
            let methods = crate::select::methods(&methods)?;
            let expectations_file = match expectations {
                Some(file) => Some(file),
                None => named_expectations(&against)?,
            };
            let expected = match &expectations_file {
                Some(file) => Expectations::load(file, &|id| clauses::find(id).is_some())?,
                None => Expectations::default(),
            };
            let mut chosen = select(&clauses, &behaviours)?;
            if let Some(p) = partition {
                chosen = p.parse::<Partition>()?.apply(chosen);
            }
            let jobs =
                jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
            if jobs == 0 {
                return Err(HarnessError::NoWorkers);
            }
            let plan = Plan {
                subject: &target,
                clauses: chosen,
                jobs,
                limit,
                methods,
            };
            let human = matches!(format, RunFormat::Human);
            let progress = |o: &crate::verdict::Outcome| {
                if human {
                    say(format_args!("{}\n", report::progress_line(o)));
                }
            };
            let run = runner::run(&plan, &progress)?;
            let target_name = target.to_string();
            let fault_name = target.fault().map(|f| f.name());
            let text = match format {
                RunFormat::Human => report::human(&run, &target_name, fault_name),
                RunFormat::Json => report::json(&run, &target_name, fault_name),
                RunFormat::Junit => crate::junit::of_run(&run, &target_name, &expected),
            };
            say(format_args!("{text}\n"));
            if let (Some(file), true) = (&expectations_file, human) {
                say(format_args!(
                    "{}\n",
                    report::against_expectations(&run, &expected, &file.display().to_string())
                ));
            }
            let all_pass = run.outcomes.iter().all(|o| expected.standing(o).is_ok());
            Ok(if all_pass {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Matrix {
            targets,
            sets,
            targets_file,
            clauses,
            behaviours,
            methods,
            partition,
            jobs,
            timeout,
            format,
            html,
        } => {
            let methods = crate::select::methods(&methods)?;
            if let Some(path) = &html {
                check_writable(path)?;
            }
            let limit = match Duration::try_from_secs_f64(timeout) {
                Ok(limit) if !limit.is_zero() => limit,
                _ => return Err(HarnessError::BadTimeout(timeout)),
            };
            let mut chosen = select(&clauses, &behaviours)?;
            if let Some(p) = partition {
                chosen = p.parse::<Partition>()?.apply(chosen);
            }
            let jobs = jobs
                .unwrap_or_else(|| 2 * std::thread::available_parallelism().map_or(2, |n| n.get()));
            if jobs == 0 {
                return Err(HarnessError::NoWorkers);
            }
            let columns = matrix_columns(&targets, &sets, targets_file.as_deref())?;
            let progress = |line: &str| eprintln!("{line}");
            let m = crate::matrix::run(&columns, &chosen, jobs, limit, &methods, &progress);
            match format {
                MatrixFormat::Markdown => say(format_args!("{}", crate::matrix::markdown(&m))),
                MatrixFormat::Json => say(format_args!(
                    "{}\n",
                    serde_json::to_string_pretty(&m).expect("serializes")
                )),
                MatrixFormat::Junit => say(format_args!("{}\n", crate::junit::of_matrix(&m))),
            }
            if let Some(path) = html {
                std::fs::write(&path, crate::matrix::html(&m)).map_err(|source| {
                    HarnessError::Output {
                        path: path.display().to_string(),
                        source,
                    }
                })?;
                eprintln!("matrix page written to {}", path.display());
            }
            Ok(if m.all_as_expected() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Repro {
            clause,
            against,
            methods,
        } => {
            let (target, limit) = against.resolve()?;
            let clause = clauses::find(&clause).ok_or(HarnessError::UnknownClause(clause))?;
            let methods = crate::select::methods(&methods)?;
            say(format_args!(
                "{}",
                crate::repro::script(clause, &target, limit, &methods)?
            ));
            Ok(ExitCode::SUCCESS)
        }
        Command::Targets {
            targets_file,
            format,
        } => {
            let catalogue = Catalogue::load(targets_file.as_deref())?;
            print_targets(&catalogue, format);
            Ok(ExitCode::SUCCESS)
        }
        Command::Setup {
            names,
            targets_file,
        } => {
            let catalogue = Catalogue::load(targets_file.as_deref())?;
            catalogue.setup(&names, &|line| eprintln!("setup: {line}"))?;
            let after = Catalogue::load(targets_file.as_deref())?;
            print_targets(&after, Format::Human);
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            iterations,
            items,
            repeat,
            python,
        } => {
            if iterations == 0 {
                return Err(HarnessError::NoIterations);
            }
            if items == 0 {
                return Err(HarnessError::NoItems);
            }
            let python = python.unwrap_or_else(crate::bench::default_python);
            let lifecycle = crate::bench::run(iterations, &python);
            say(format_args!(
                "{}",
                crate::bench::table(&lifecycle, iterations)
            ));
            let mut all_measured = lifecycle.iter().all(|m| m.micros.is_ok());
            for carrier in [Carrier::Queue, Carrier::Pipe] {
                let measures = crate::bench_transfer::run(carrier, items, repeat, &python);
                say(format_args!(
                    "{}",
                    crate::bench::table_of(
                        &format!(
                            "{items} small items, {} (median of {repeat} runs)",
                            carrier.title()
                        ),
                        "µs / item",
                        &measures
                    )
                ));
                all_measured &= measures.iter().all(|m| m.micros.is_ok());
            }
            Ok(if all_measured {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Fuzz {
            against,
            cases,
            seeds,
            methods,
        } => {
            if cases == 0 {
                return Err(HarnessError::NoCases);
            }
            // Bad input is refused here, before anything starts.
            against.resolve()?;
            crate::select::methods(&methods)?;
            let mut args = vec![
                "__fuzz".to_string(),
                "--cases".into(),
                cases.to_string(),
                "--seeds".into(),
                seeds,
            ];
            for method in methods {
                args.extend(["--method".to_string(), method]);
            }
            args.extend(against.as_args());
            let status = crate::fuzz_process::run_isolated(&args)?;
            Ok(ExitCode::from(status))
        }
        Command::FuzzHere {
            against,
            cases,
            seeds,
            methods,
        } => {
            let (target, limit) = against.resolve()?;
            crate::fuzz_process::start_watchdog(limit);
            let methods = if methods.is_empty() {
                vec!["fork".to_string()]
            } else {
                methods
            };
            for method in &methods {
                let report = crate::fuzz::fuzz(
                    &target,
                    method,
                    cases,
                    Some(&seeds),
                    crate::fuzz::Generator::Random,
                )?;
                match report.finding {
                    None => say(format_args!(
                        "fuzz against {target} [{method}]: {} sequential and {} concurrent cases, no departure from the model\n",
                        report.sequential_cases, report.concurrent_cases
                    )),
                    Some(finding) => {
                        say(format_args!(
                            "fuzz against {target} [{method}]: a departure from the model, shrunk to a minimal case\n{finding}\n"
                        ));
                        return Ok(ExitCode::from(1));
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Clause { against } => {
            let (target, _) = against.resolve()?;
            Ok(ExitCode::from(crate::isolate::serve(&target) as u8))
        }
    }
}

/// Refuses an output path that cannot be written, before any work starts:
/// the file is created (or opened for appending, so nothing is lost) and
/// left for the run to fill.
fn check_writable(path: &std::path::Path) -> Result<(), HarnessError> {
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map(drop)
        .map_err(|source| HarnessError::Output {
            path: path.display().to_string(),
            source,
        })
}

/// The expectations file of a target given by name, if it was.
fn named_expectations(against: &Against) -> Result<Option<std::path::PathBuf>, HarnessError> {
    if against.module.is_some() || Target::parse(&against.target, None).is_ok() {
        return Ok(None);
    }
    let catalogue = Catalogue::load(against.targets_file.as_deref())?;
    Ok(Some(catalogue.find(&against.target)?.expectations.clone()))
}

/// The matrix's columns: the reference first, then the named targets and
/// sets (default: the file's `all` set), each with its expectations.
fn matrix_columns(
    targets: &[String],
    sets: &[String],
    file: Option<&std::path::Path>,
) -> Result<Vec<crate::matrix::Column>, HarnessError> {
    let catalogue = Catalogue::load(file)?;
    let known = |id: &str| clauses::find(id).is_some();
    let mut columns = vec![crate::matrix::Column {
        name: "ref".into(),
        target: Target::Ref(None),
        expectations: Expectations::default(),
        expectations_file: None,
        missing: None,
    }];
    let mut named: Vec<&crate::catalogue::Named> = Vec::new();
    for set in sets {
        named.extend(catalogue.set(set)?);
    }
    for t in targets {
        match Target::parse(t, None) {
            Ok(Target::Ref(_)) => {}
            Ok(target) => columns.push(crate::matrix::Column {
                name: t.clone(),
                target,
                expectations: Expectations::default(),
                expectations_file: None,
                missing: None,
            }),
            Err(_) => named.push(catalogue.find(t)?),
        }
    }
    if targets.is_empty() && sets.is_empty() {
        named = catalogue.set("all")?;
    }
    for n in named {
        if columns.iter().any(|c| c.name == n.name) {
            continue;
        }
        columns.push(crate::matrix::Column {
            name: n.name.clone(),
            target: n.target(),
            expectations: Expectations::load(&n.expectations, &known)?,
            expectations_file: Some(n.expectations.display().to_string()),
            missing: n.missing.clone(),
        });
    }
    Ok(columns)
}

#[derive(Serialize)]
struct TargetListing {
    name: String,
    present: bool,
    target: String,
    about: String,
    expectations: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    missing: Option<String>,
}

fn print_targets(catalogue: &Catalogue, format: Format) {
    let listing: Vec<TargetListing> = catalogue
        .targets
        .iter()
        .map(|t| TargetListing {
            name: t.name.clone(),
            present: t.present(),
            target: t.target().to_string(),
            about: t.about.clone(),
            expectations: t.expectations.display().to_string(),
            missing: t.missing.clone(),
        })
        .collect();
    print_listing(format, &listing, |t| match &t.missing {
        None => format!("{:<14} present  {}", t.name, t.target),
        Some(why) => format!("{:<14} MISSING  {why}", t.name),
    });
}

#[derive(Serialize)]
struct ClauseListing {
    id: &'static str,
    behaviours: &'static [&'static str],
    seeds: &'static [&'static str],
    statement: String,
    notes: String,
    needs: Vec<String>,
    /// `each` (every start method the target has), `once` (the first: the
    /// os layer), or the list of the only methods it runs under.
    methods: serde_json::Value,
}

/// Collapses the whitespace that line-wrapped source text leaves.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn print_list(format: Format) {
    let listing: Vec<ClauseListing> = clauses::all()
        .into_iter()
        .map(|c| ClauseListing {
            id: c.id,
            behaviours: c.behaviours,
            seeds: c.seeds,
            statement: one_line(c.statement),
            notes: one_line(c.notes),
            needs: c.needs.iter().map(|n| format!("{n:?}")).collect(),
            methods: match c.methods {
                mpconform_spec::Methods::Each => "each".into(),
                mpconform_spec::Methods::Any => "once".into(),
                mpconform_spec::Methods::Only(only) => only.to_vec().into(),
            },
        })
        .collect();
    print_listing(format, &listing, |c| {
        format!(
            "{:<40} {:<10} {}",
            c.id,
            c.behaviours.join(","),
            c.statement
        )
    });
}

/// A listing as pretty JSON, or a line per item for people.
fn print_listing<T: Serialize>(format: Format, items: &[T], line: impl Fn(&T) -> String) {
    match format {
        Format::Json => say(format_args!(
            "{}\n",
            serde_json::to_string_pretty(items).expect("serializes")
        )),
        Format::Human => {
            for item in items {
                say(format_args!("{}\n", line(item)));
            }
        }
    }
}

#[derive(Serialize)]
struct FaultListing {
    name: &'static str,
    imitates: &'static str,
}

fn print_faults(format: Format) {
    let listing: Vec<FaultListing> = Fault::ALL
        .iter()
        .map(|f| FaultListing {
            name: f.name(),
            imitates: f.imitates(),
        })
        .collect();
    print_listing(format, &listing, |f| {
        format!("{:<34} {}", f.name, f.imitates)
    });
}
