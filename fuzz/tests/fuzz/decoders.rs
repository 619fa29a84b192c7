//! Each decoder target under bolero: `cargo test` runs random inputs on stable;
//! `cargo bolero test --package tessera-fuzz --test fuzz decoders::<name>` runs a coverage-guided
//! engine (libFuzzer by default; needs nightly and cargo-bolero).

use tessera_fuzz::targets;

#[test]
fn json_body() {
    bolero::check!().for_each(targets::json_body);
}

#[test]
fn rest_request() {
    bolero::check!().for_each(targets::rest_request);
}

#[test]
fn sigv4() {
    bolero::check!().for_each(targets::sigv4);
}

#[test]
fn list_users_filter() {
    bolero::check!().for_each(targets::list_users_filter);
}

#[test]
fn sealed_token() {
    bolero::check!().for_each(targets::sealed_token);
}

#[test]
fn jwt() {
    bolero::check!().for_each(targets::jwt);
}

#[test]
fn import_csv() {
    bolero::check!().for_each(targets::import_csv);
}

#[test]
fn sync_patches() {
    bolero::check!().for_each(targets::sync_patches);
}
