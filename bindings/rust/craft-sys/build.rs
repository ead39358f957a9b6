//! Finds libcraft through pkg-config and generates the raw declarations
//! from its installed headers with bindgen (libclang).
//!
//! The declarations are generated at build time, not checked in, so they
//! always match the headers of the libcraft being linked: a function added
//! to the C API shows up here with no edit. The price is a libclang at
//! build time (Debian: libclang-dev, installed by `make deps`).
//!
//! Environment: PKG_CONFIG_PATH as usual to pick an installation;
//! CRAFT_SYS_STATIC=1 links libcraft.a instead of libcraft.so.

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=wrapper.h");
    println!("cargo:rerun-if-env-changed=CRAFT_SYS_STATIC");
    let statik = env::var("CRAFT_SYS_STATIC")
        .map(|v| v == "1")
        .unwrap_or(false);

    let lib = pkg_config::Config::new()
        .atleast_version("0.1.0")
        .statik(statik)
        .probe("craft")
        .unwrap_or_else(|e| {
            panic!(
                "craft-sys: libcraft not found through pkg-config ({e}).\n\
                 Install craft (`make install`) or point PKG_CONFIG_PATH at \
                 the directory holding craft.pc (`make rust-test` does this \
                 with a staged install under build/)."
            )
        });

    let mut builder = bindgen::Builder::default()
        .header("wrapper.h")
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .allowlist_function("craft_.*")
        .allowlist_type("craft_.*")
        .allowlist_var("CRAFT_.*")
        // enum constants as plain consts named like in C (CRAFT_EINVAL).
        .prepend_enum_name(false)
        .layout_tests(true)
        .derive_default(false)
        .generate_comments(true);
    for dir in &lib.include_paths {
        builder = builder.clang_arg(format!("-I{}", dir.display()));
        // Regenerate when an installed header changes.
        for h in ["craft.h", "craft"] {
            println!("cargo:rerun-if-changed={}", dir.join(h).display());
        }
    }
    let bindings = builder
        .generate()
        .expect("craft-sys: bindgen could not read the craft headers");

    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("bindings.rs");
    bindings
        .write_to_file(&out)
        .expect("craft-sys: cannot write bindings.rs");

    // For dependents' build scripts (DEP_CRAFT_INCLUDE).
    if let Some(dir) = lib.include_paths.first() {
        println!("cargo:include={}", dir.display());
    }
}
