//! ERC-7730 clear-signing descriptors at start: the bundled ones and every `*.json` of the
//! configured folder (`[display] descriptors_dir`), parsed once into the
//! [`Descriptors`] the API's words use.

use std::path::{Path, PathBuf};

use signgate_simulator::render::{Descriptor, DescriptorError, Descriptors, clear_sign};

/// Why the descriptors could not be loaded; the gateway does not start on a bad one.
#[derive(Debug, thiserror::Error)]
pub enum DescriptorsError {
    /// A bundled descriptor does not parse (a build defect).
    #[error("bundled clear-signing descriptor: {0}")]
    Bundled(#[source] DescriptorError),
    /// The folder or a file could not be read.
    #[error("reading display.descriptors_dir {path}: {source}")]
    Read {
        /// What was read.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file is not a usable descriptor.
    #[error(
        "display.descriptors_dir: {path} is not a usable ERC-7730 calldata descriptor: {source}; fix or remove it"
    )]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why.
        source: DescriptorError,
    },
    /// The file is larger than a descriptor may be.
    #[error("display.descriptors_dir: {path} is larger than {max} bytes")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The bound.
        max: usize,
    },
}

/// The bundled descriptors and those of `dir` (files ending in `.json`, in name order).
pub fn load(dir: Option<&Path>) -> Result<Descriptors, DescriptorsError> {
    let mut all = Descriptors::bundled().map_err(DescriptorsError::Bundled)?;
    let Some(dir) = dir else {
        return Ok(all);
    };
    let read = |source| DescriptorsError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(read)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    for path in files.into_iter().take(clear_sign::MAX_DESCRIPTORS) {
        let len = std::fs::metadata(&path)
            .map_err(|source| DescriptorsError::Read {
                path: path.clone(),
                source,
            })?
            .len();
        if len > clear_sign::MAX_DESCRIPTOR_BYTES as u64 {
            return Err(DescriptorsError::TooLarge {
                path,
                max: clear_sign::MAX_DESCRIPTOR_BYTES,
            });
        }
        let bytes = std::fs::read(&path).map_err(|source| DescriptorsError::Read {
            path: path.clone(),
            source,
        })?;
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let d = Descriptor::parse(&name, &bytes)
            .map_err(|source| DescriptorsError::Invalid { path, source })?;
        all.add(d);
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = r#"{"context":{"contract":{"deployments":[{"chainId":1,"address":"0x0000000000000000000000000000000000000001"}]}},
        "metadata":{"owner":"Example"},
        "display":{"formats":{"deposit(uint256 amount)":{"intent":"Deposit","fields":[{"path":"amount","label":"Amount","format":"amount"}]}}}}"#;

    #[test]
    fn the_configured_folder_adds_descriptors_and_a_bad_file_stops_the_start() {
        let bundled = load(None).unwrap().len();
        assert!(bundled >= 1, "the bundled set is never empty");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("example.json"), ONE).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a descriptor").unwrap();
        assert_eq!(load(Some(dir.path())).unwrap().len(), bundled + 1);
        std::fs::write(dir.path().join("broken.json"), "{").unwrap();
        assert!(matches!(
            load(Some(dir.path())),
            Err(DescriptorsError::Invalid { .. })
        ));
    }
}
