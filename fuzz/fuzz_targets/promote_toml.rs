//! Any text as promote.toml: a project or an error naming the file and line, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::config::Project;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Project::parse(std::path::Path::new("promote.toml"), text) {
        Ok(project) => {
            for env in &project.order {
                let _ = project.env_before(env);
            }
        }
        Err(e) => assert!(e.to_string().starts_with("promote.toml:"), "{e}"),
    }
});
