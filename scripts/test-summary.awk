# Filters `cargo test` output (stdout and stderr together) for scripts/test.sh: drops the blocks
# of test binaries and doc-tests that ran no test (the empty doc-test blocks of every library),
# passes everything else through as it comes, and ends with one line totalling every binary.
#
#   cargo test 2>&1 | awk -f scripts/test-summary.awk
#
# A block starts with cargo's "     Running …" or "   Doc-tests …" line; "running 0 tests" marks it
# empty, and its "test result:" line and the blank line after it end it.

function flush(   i) {
    for (i = 1; i <= held; i++) print buf[i]
    held = 0
    fflush()
}

function hold(line) {
    buf[++held] = line
}

# Sums a "test result: ok. 5 passed; 1 failed; 2 ignored; 0 measured; 3 filtered out; …" line.
function count(line,   n, parts, i, w, words) {
    n = split(line, parts, ";")
    for (i = 1; i <= n; i++) {
        w = split(parts[i], words, " ")
        if (parts[i] ~ / passed$/) passed += words[w - 1]
        else if (parts[i] ~ / failed$/) failed += words[w - 1]
        else if (parts[i] ~ / ignored$/) ignored += words[w - 1]
        else if (parts[i] ~ / filtered out$/) filtered += words[w - 2]
    }
    binaries++
    if (line ~ /^test result: FAILED/) failing++
}

function now(   t) {
    "date +%s" | getline t
    close("date +%s")
    return t
}

BEGIN { state = "pass"; held = 0; started = now() }

{
    # cargo's header of the next binary, e.g. "     Running tests/e2e/main.rs (target/…)"
    if ($0 ~ /^ +(Running|Doc-tests) /) {
        flush()
        state = "head"
        hold($0)
        next
    }
    if (state == "head") {
        if ($0 == "") { hold($0); next }
        if ($0 ~ /^running 0 tests$/) { held = 0; state = "empty"; next }
        flush()
        state = "pass"
    } else if (state == "empty") {
        if ($0 == "") next
        if ($0 ~ /^test result: /) { count($0); state = "after"; next }
        state = "pass"
    } else if (state == "after") {
        state = "pass"
        if ($0 == "") next
    }
    if ($0 ~ /^test result: /) count($0)
    print
    fflush()
}

END {
    flush()
    secs = now() - started
    if (binaries == 0) {
        print "== no test ran (see the errors above)"
        exit
    }
    line = sprintf("== tests: %d passed, %d failed, %d ignored", passed, failed, ignored)
    if (filtered > 0) line = line sprintf(", %d filtered out", filtered)
    line = line sprintf(" in %d test binaries", binaries)
    if (failing > 0) line = line sprintf(" (%d with failures)", failing)
    print line sprintf(", %d min %d s", int(secs / 60), secs % 60)
}
