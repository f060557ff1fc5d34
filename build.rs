// sqlx::migrate! embeds ./migrations at compile time but cannot tell cargo
// about files added later; without this a new migration is silently left out
// of the binary until something else changes.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
