//! Any bytes on stdin: the reader answers records or an error naming a line, never a panic, and
//! every record it accepts can be parsed, passed through, and checked again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::input::Input;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = Input::from_bytes("stdin", data) else {
        return;
    };
    for record in input.records() {
        assert!(record.line >= 1);
        let _ = record.parse(input.origin());
        // What a tool passes on is a record again.
        let again = Input::from_text("again", record.raw);
        assert!(again.is_ok(), "a record read once reads again: {}", record.raw);
    }
});
