//! Compiles `proto/signgate/v1/*.proto` with protox (pure Rust), so no system `protoc` is needed,
//! and writes the encoded file descriptor set that server reflection serves.

use std::{env, fs, path::PathBuf};

const FILES: [&str; 4] = [
    "proto/signgate/v1/types.proto",
    "proto/signgate/v1/gateway.proto",
    "proto/signgate/v1/admin.proto",
    "proto/signgate/v1/signer.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(FILES, ["proto"])?;
    let out = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(
        out.join("signgate_descriptor.bin"),
        prost::Message::encode_to_vec(&fds),
    )?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
