//! The vetted library in `responses/` is compiled into the binary (`include_dir!` in
//! src/library/source.rs). Proc macros cannot tell Cargo which files they read, so this tells it:
//! any change under `responses/` rebuilds the crate and the built-in copy never goes stale.
fn main() {
    println!("cargo:rerun-if-changed=responses");
}
