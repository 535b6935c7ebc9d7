//! CPU time spent on a measurement: this process's, plus that of the PostgreSQL server
//! processes serving the bench's own database (found by its name in their command line, as
//! PostgreSQL titles its backends "postgres: user database ..."). Linux only (`/proc`); on a
//! shared machine this counts the work of the measurement itself, not the other load, so
//! events per CPU second compare across rounds where wall-clock rates do not.

use std::fs;

/// Clock ticks per second of `/proc/*/stat` (`getconf CLK_TCK`, 100 on Linux).
const TICKS: f64 = 100.0;

/// utime + stime of a process, in ticks.
fn ticks(pid: &str) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: fields count from after its closing parenthesis.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// CPU seconds used so far by this process and by the server backends of `database`.
pub fn seconds(database: Option<&str>) -> f64 {
    let mut total = ticks("self").unwrap_or(0);
    if let Some(database) = database {
        let needle = format!(" {database} ");
        for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
            let pid = entry.file_name().to_string_lossy().into_owned();
            if !pid.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.starts_with("postgres: ") && cmdline.contains(&needle) {
                total += ticks(&pid).unwrap_or(0);
            }
        }
    }
    total as f64 / TICKS
}
