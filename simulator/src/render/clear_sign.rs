//! Known protocols in plain words: ERC-7730 clear-signing descriptors (the JSON format of the
//! public registry, github.com/LedgerHQ/clear-signing-erc7730-registry).
//!
//! A descriptor only changes how a call is shown, and only a call the gateway's own decoder
//! does not know (token, Safe and Permit2 calls keep the gateway's words). It is chosen by chain
//! and contract address, its format by the call's selector, and it is used only when it agrees
//! with the call: the calldata must decode under the format's signature and encode back to the
//! same bytes (nothing hidden after the arguments), every field it shows must name a parameter
//! of that signature, and an amount or token must be a number or an address where it says so.
//! A descriptor that disagrees is ignored with a [`DisplayWarning::DescriptorIgnored`]; the
//! gateway's decoding, screening and policy never read a descriptor. Arguments a descriptor neither shows nor excludes are
//! still shown, raw.
//!
//! Parsing is bounded: [`MAX_DESCRIPTOR_BYTES`] per file, [`MAX_FORMATS`] formats,
//! [`MAX_FIELDS`] fields per format, [`MAX_TEXT`] characters per label or intent.

use std::collections::BTreeMap;

use alloy_dyn_abi::{DynSolValue, JsonAbiExt as _};
use alloy_json_abi::Function;
use alloy_primitives::{Address, U256};
use serde::Deserialize;

use super::units::{AssetBook, DisplayWarning};

/// The largest descriptor file read, in bytes.
pub const MAX_DESCRIPTOR_BYTES: usize = 256 * 1024;
/// The most formats (functions) one descriptor may describe.
pub const MAX_FORMATS: usize = 256;
/// The most fields one format may show.
pub const MAX_FIELDS: usize = 64;
/// The longest label or intent kept, in characters.
pub const MAX_TEXT: usize = 160;
/// The most descriptors one registry holds.
pub const MAX_DESCRIPTORS: usize = 4096;

/// Why a descriptor file was refused.
#[derive(Debug, thiserror::Error)]
pub enum DescriptorError {
    /// Larger than [`MAX_DESCRIPTOR_BYTES`].
    #[error("descriptor is {len} bytes, more than the {max} allowed")]
    TooLarge {
        /// Its size.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// Not ERC-7730 JSON.
    #[error("not an ERC-7730 descriptor: {0}")]
    Json(#[from] serde_json::Error),
    /// No contract deployments: only calldata descriptors are used.
    #[error("descriptor has no contract deployments (only calldata descriptors are used)")]
    NoDeployments,
    /// More formats or fields than the bounds allow.
    #[error("descriptor has {count} {what}, more than the {max} allowed")]
    TooMany {
        /// What is counted.
        what: &'static str,
        /// How many.
        count: usize,
        /// The bound.
        max: usize,
    },
    /// A format key is not a function signature.
    #[error("format key `{key}` is not a function signature with named parameters")]
    BadSignature {
        /// The key.
        key: String,
    },
}

#[derive(Deserialize)]
struct RawDescriptor {
    context: RawContext,
    #[serde(default)]
    metadata: RawMetadata,
    display: RawDisplay,
}

#[derive(Deserialize)]
struct RawContext {
    #[serde(default)]
    contract: Option<RawContract>,
}

#[derive(Deserialize)]
struct RawContract {
    #[serde(default)]
    deployments: Vec<RawDeployment>,
}

#[derive(Deserialize)]
struct RawDeployment {
    #[serde(rename = "chainId")]
    chain_id: u64,
    address: Address,
}

#[derive(Deserialize, Default)]
struct RawMetadata {
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    constants: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    enums: BTreeMap<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct RawDisplay {
    #[serde(default)]
    formats: BTreeMap<String, RawFormat>,
}

#[derive(Deserialize)]
struct RawFormat {
    #[serde(default)]
    intent: Option<serde_json::Value>,
    #[serde(default)]
    fields: Vec<RawField>,
    #[serde(default)]
    excluded: Vec<String>,
}

#[derive(Deserialize)]
struct RawField {
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    params: Option<serde_json::Value>,
}

/// How a field's value is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
enum FieldFormat {
    /// A token amount: the token is a constant or another parameter.
    TokenAmount {
        token: Option<TokenRef>,
        threshold: Option<U256>,
        message: Option<String>,
    },
    /// An amount of the native coin.
    NativeAmount,
    /// An enum: value → words.
    Enum(BTreeMap<String, String>),
    /// Anything else: the value as it is.
    Raw,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum TokenRef {
    Constant(Address),
    Parameter(String),
}

#[derive(Debug, Clone)]
struct Field {
    parameter: String,
    label: String,
    format: FieldFormat,
}

#[derive(Debug, Clone)]
struct Format {
    function: Function,
    intent: String,
    fields: Vec<Field>,
    excluded: Vec<String>,
}

/// One parsed descriptor: where it applies and how each of its functions reads.
#[derive(Debug, Clone)]
pub struct Descriptor {
    name: String,
    owner: Option<String>,
    deployments: Vec<(u64, Address)>,
    formats: Vec<Format>,
}

fn text(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .take(MAX_TEXT)
        .collect()
}

/// `#.amount`, `amount`, `#.params.amount` → the top-level parameter name it starts with.
fn parameter_of(path: &str) -> String {
    let p = path.strip_prefix("#.").unwrap_or(path);
    p.split('.').next().unwrap_or(p).to_owned()
}

/// A `$.metadata.constants.x` or `$.metadata.enums.x` reference, resolved.
fn resolve<'a>(v: &'a serde_json::Value, meta: &'a RawMetadata) -> Option<&'a serde_json::Value> {
    match v.as_str() {
        Some(s) if s.starts_with("$.metadata.constants.") => meta
            .constants
            .get(s.trim_start_matches("$.metadata.constants.")),
        Some(s) if s.starts_with("$.metadata.enums.") => {
            meta.enums.get(s.trim_start_matches("$.metadata.enums."))
        }
        _ => Some(v),
    }
}

impl Descriptor {
    /// Parses one descriptor file; `name` says where it came from in warnings.
    pub fn parse(name: &str, bytes: &[u8]) -> Result<Self, DescriptorError> {
        if bytes.len() > MAX_DESCRIPTOR_BYTES {
            return Err(DescriptorError::TooLarge {
                len: bytes.len(),
                max: MAX_DESCRIPTOR_BYTES,
            });
        }
        let raw: RawDescriptor = serde_json::from_slice(bytes)?;
        let deployments: Vec<(u64, Address)> = raw
            .context
            .contract
            .map(|c| {
                c.deployments
                    .iter()
                    .map(|d| (d.chain_id, d.address))
                    .collect()
            })
            .unwrap_or_default();
        if deployments.is_empty() {
            return Err(DescriptorError::NoDeployments);
        }
        if raw.display.formats.len() > MAX_FORMATS {
            return Err(DescriptorError::TooMany {
                what: "formats",
                count: raw.display.formats.len(),
                max: MAX_FORMATS,
            });
        }
        let meta = &raw.metadata;
        let mut formats = Vec::new();
        for (key, f) in &raw.display.formats {
            if f.fields.len() > MAX_FIELDS {
                return Err(DescriptorError::TooMany {
                    what: "fields",
                    count: f.fields.len(),
                    max: MAX_FIELDS,
                });
            }
            let bad = || DescriptorError::BadSignature { key: key.clone() };
            let function = Function::parse(key).map_err(|_| bad())?;
            // Without parameter names a descriptor's paths cannot be tied to arguments (the
            // registry then points at an ABI elsewhere, which is never fetched).
            if function.inputs.iter().any(|p| p.name.is_empty()) {
                return Err(bad());
            }
            let intent = match &f.intent {
                Some(serde_json::Value::String(s)) => text(s),
                Some(serde_json::Value::Object(o)) => {
                    text(&o.keys().cloned().collect::<Vec<_>>().join(", "))
                }
                _ => text(&function.name),
            };
            let fields = f
                .fields
                .iter()
                .filter_map(|field| {
                    let path = field.path.as_deref()?;
                    let params = field.params.as_ref();
                    let param = |k: &str| params.and_then(|p| p.get(k));
                    let format = match field.format.as_deref() {
                        Some("tokenAmount") => FieldFormat::TokenAmount {
                            token: param("token")
                                .and_then(|v| resolve(v, meta))
                                .and_then(|v| v.as_str())
                                .and_then(|s| s.parse().ok())
                                .map(TokenRef::Constant)
                                .or_else(|| {
                                    param("tokenPath")
                                        .and_then(|v| v.as_str())
                                        .map(|s| TokenRef::Parameter(parameter_of(s)))
                                }),
                            threshold: param("threshold")
                                .and_then(|v| resolve(v, meta))
                                .and_then(|v| v.as_str())
                                .and_then(|s| s.parse().ok()),
                            message: param("message").and_then(|v| v.as_str()).map(text),
                        },
                        Some("amount") => FieldFormat::NativeAmount,
                        Some("enum") => FieldFormat::Enum(
                            param("$ref")
                                .and_then(|v| resolve(v, meta))
                                .and_then(|v| v.as_object())
                                .map(|o| {
                                    o.iter()
                                        .filter_map(|(k, v)| Some((k.clone(), text(v.as_str()?))))
                                        .collect()
                                })
                                .unwrap_or_default(),
                        ),
                        _ => FieldFormat::Raw,
                    };
                    Some(Field {
                        parameter: parameter_of(path),
                        label: text(field.label.as_deref().unwrap_or(path)),
                        format,
                    })
                })
                .collect();
            formats.push(Format {
                function,
                intent,
                fields,
                excluded: f.excluded.iter().map(|e| parameter_of(e)).collect(),
            });
        }
        Ok(Self {
            name: text(name),
            owner: meta.owner.as_deref().map(text),
            deployments,
            formats,
        })
    }

    /// Whether this descriptor covers `contract` on `chain_id`.
    pub fn covers(&self, chain_id: u64, contract: Address) -> bool {
        self.deployments.contains(&(chain_id, contract))
    }
}

/// The outcome of looking a call up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClearSign {
    /// No descriptor covers this contract and selector.
    None,
    /// The call in the descriptor's words.
    Words(String),
    /// A descriptor covers it but disagrees with the call.
    Ignored(DisplayWarning),
}

/// The descriptors the gateway knows: the bundled ones and those of the configured folder.
#[derive(Debug, Clone, Default)]
pub struct Descriptors {
    all: Vec<Descriptor>,
}

/// The descriptors bundled with signgate (see `simulator/fixtures/erc7730/PROVENANCE.md`).
const BUNDLED: &[(&str, &str)] = &[
    (
        "aave/calldata-pool-v3.json",
        include_str!("../../fixtures/erc7730/aave/calldata-pool-v3.json"),
    ),
    (
        "lido/calldata-steth.json",
        include_str!("../../fixtures/erc7730/lido/calldata-steth.json"),
    ),
    (
        "weth/calldata-weth9.json",
        include_str!("../../fixtures/erc7730/weth/calldata-weth9.json"),
    ),
];

impl Descriptors {
    /// The bundled descriptors for major Ethereum protocols.
    pub fn bundled() -> Result<Self, DescriptorError> {
        let mut d = Self::default();
        for (name, json) in BUNDLED {
            d.add(Descriptor::parse(name, json.as_bytes())?);
        }
        Ok(d)
    }

    /// Adds one descriptor (beyond [`MAX_DESCRIPTORS`], it is dropped).
    pub fn add(&mut self, d: Descriptor) {
        if self.all.len() < MAX_DESCRIPTORS {
            self.all.push(d);
        }
    }

    /// How many descriptors are known.
    pub fn len(&self) -> usize {
        self.all.len()
    }

    /// Whether none is known.
    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }

    /// The call of `contract` on `chain_id` with `selector` and `arguments` (the calldata after
    /// the selector) in a descriptor's words, when one covers it and agrees with it.
    pub fn describe(
        &self,
        chain_id: u64,
        contract: Address,
        selector: [u8; 4],
        arguments: &[u8],
        book: &AssetBook,
    ) -> ClearSign {
        for d in self.all.iter().filter(|d| d.covers(chain_id, contract)) {
            let Some(f) = d
                .formats
                .iter()
                .find(|f| f.function.selector().0 == selector)
            else {
                continue;
            };
            return match words(d, f, contract, arguments, book) {
                Ok(w) => ClearSign::Words(w),
                Err(why) => ClearSign::Ignored(DisplayWarning::DescriptorIgnored {
                    contract,
                    descriptor: d.name.clone(),
                    why,
                }),
            };
        }
        ClearSign::None
    }
}

fn value_words(v: &DynSolValue) -> String {
    match v {
        DynSolValue::Address(a) => a.to_string(),
        DynSolValue::Uint(u, _) => u.to_string(),
        DynSolValue::Int(i, _) => i.to_string(),
        DynSolValue::Bool(b) => b.to_string(),
        DynSolValue::FixedBytes(w, size) => {
            format!(
                "0x{}",
                alloy_primitives::hex::encode(w.get(..*size).unwrap_or_default())
            )
        }
        DynSolValue::Bytes(b) => {
            format!("0x{} ({} bytes)", alloy_primitives::hex::encode(b), b.len())
        }
        DynSolValue::String(s) => format!("{:?}", text(s)),
        DynSolValue::Array(items) | DynSolValue::FixedArray(items) | DynSolValue::Tuple(items) => {
            format!(
                "[{}]",
                items.iter().map(value_words).collect::<Vec<_>>().join(", ")
            )
        }
        other => format!("{other:?}"),
    }
}

fn words(
    d: &Descriptor,
    f: &Format,
    contract: Address,
    arguments: &[u8],
    book: &AssetBook,
) -> Result<String, String> {
    let sig = f.function.signature();
    let values = f
        .function
        .abi_decode_input(arguments)
        .map_err(|_| format!("the calldata does not decode as {sig}"))?;
    if f.function.abi_encode_input_raw(&values).ok().as_deref() != Some(arguments) {
        return Err(format!(
            "the calldata is not the canonical encoding of {sig}"
        ));
    }
    let names: Vec<&str> = f.function.inputs.iter().map(|p| p.name.as_str()).collect();
    let arg = |name: &str| {
        names
            .iter()
            .position(|n| *n == name)
            .and_then(|i| values.get(i))
    };
    let mut parts = Vec::new();
    for field in &f.fields {
        let Some(v) = arg(&field.parameter) else {
            return Err(format!(
                "it shows `{}`, which {sig} does not have",
                field.parameter
            ));
        };
        let shown = match (&field.format, v) {
            (
                FieldFormat::TokenAmount {
                    token,
                    threshold,
                    message,
                },
                DynSolValue::Uint(amount, _),
            ) => {
                let token = match token {
                    Some(TokenRef::Constant(a)) => Some(*a),
                    Some(TokenRef::Parameter(p)) => match arg(p) {
                        Some(DynSolValue::Address(a)) => Some(*a),
                        _ => return Err(format!("its token `{p}` is not an address parameter")),
                    },
                    None => None,
                };
                let token = token.unwrap_or(contract);
                match (threshold, message) {
                    (Some(t), Some(m)) if amount >= t => {
                        format!("{m} ({})", book.amount(token, *amount))
                    }
                    _ => book.amount(token, *amount),
                }
            }
            (FieldFormat::NativeAmount, DynSolValue::Uint(amount, _)) => book.native(*amount),
            (FieldFormat::Enum(names), DynSolValue::Uint(n, _)) => {
                match names.get(&n.to_string()) {
                    Some(w) => format!("{w} ({n})"),
                    None => format!("{n} (not a value the descriptor names)"),
                }
            }
            (FieldFormat::Raw, v) => value_words(v),
            (_, v) => {
                return Err(format!(
                    "it formats `{}` as an amount, but the argument is {}",
                    field.parameter,
                    value_words(v)
                ));
            }
        };
        parts.push(format!("{} {shown}", field.label));
    }
    // Arguments the descriptor neither shows nor excludes are still shown.
    for (name, v) in names.iter().zip(&values) {
        if !f.fields.iter().any(|x| x.parameter == *name) && !f.excluded.iter().any(|e| e == name) {
            parts.push(format!("{name} {}", value_words(v)));
        }
    }
    let by = d
        .owner
        .as_deref()
        .map_or_else(String::new, |o| format!(" [{o}]"));
    Ok(format!(
        "{}{by}: {} (as described by {})",
        f.intent,
        parts.join(", "),
        d.name
    ))
}

#[cfg(test)]
mod tests {
    use alloy_primitives::address;

    use super::*;

    const POOL: Address = address!("0x87870Bca3F3fD6335C3F4ce8392D69350B4fA4E2");

    fn supply(amount: U256) -> Vec<u8> {
        let f = Function::parse(
            "supply(address asset, uint256 amount, address onBehalfOf, uint16 referralCode)",
        )
        .unwrap();
        f.abi_encode_input_raw(&[
            DynSolValue::Address(Address::repeat_byte(0x70)),
            DynSolValue::Uint(amount, 256),
            DynSolValue::Address(Address::repeat_byte(0x5a)),
            DynSolValue::Uint(U256::from(7u8), 16),
        ])
        .unwrap()
    }

    fn selector() -> [u8; 4] {
        Function::parse("supply(address,uint256,address,uint16)")
            .unwrap()
            .selector()
            .0
    }

    #[test]
    fn the_bundled_aave_descriptor_shows_a_supply_and_keeps_unexcluded_arguments() {
        let d = Descriptors::bundled().unwrap();
        let book = AssetBook::default();
        let ClearSign::Words(w) = d.describe(1, POOL, selector(), &supply(U256::from(5u8)), &book)
        else {
            panic!("the bundled descriptor covers Aave v3 supply")
        };
        assert!(
            w.starts_with("Lend to Aave [Aave]: Lends 5 base units"),
            "{w}"
        );
        // `asset` is neither shown nor excluded: still shown; `referralCode` is excluded.
        assert!(
            w.contains("asset 0x7070707070707070707070707070707070707070"),
            "{w}"
        );
        assert!(!w.contains("referralCode"), "{w}");
        // Another chain, or another contract: not covered.
        assert_eq!(
            d.describe(5, POOL, selector(), &supply(U256::from(5u8)), &book),
            ClearSign::None
        );
    }

    #[test]
    fn a_descriptor_that_disagrees_with_the_call_is_ignored_with_a_warning() {
        let d = Descriptors::bundled().unwrap();
        let book = AssetBook::default();
        let mut trailing = supply(U256::from(5u8));
        trailing.push(0xff);
        assert!(matches!(
            d.describe(1, POOL, selector(), &trailing, &book),
            ClearSign::Ignored(DisplayWarning::DescriptorIgnored { .. })
        ));
        // A descriptor showing a field its function does not have.
        let bad = br#"{"context":{"contract":{"deployments":[{"chainId":1,"address":"0x0000000000000000000000000000000000000001"}]}},
            "display":{"formats":{"supply(address asset, uint256 amount, address onBehalfOf, uint16 referralCode)":
            {"intent":"Supply","fields":[{"path":"recipient","label":"To","format":"addressName"}]}}}}"#;
        let mut one = Descriptors::default();
        one.add(Descriptor::parse("bad.json", bad).unwrap());
        let got = one.describe(
            1,
            Address::with_last_byte(1),
            selector(),
            &supply(U256::ZERO),
            &book,
        );
        let ClearSign::Ignored(w) = got else {
            panic!("{got:?}")
        };
        assert!(w.to_string().contains("does not have"), "{w}");
    }

    #[test]
    fn descriptors_are_bounded_and_need_named_parameters() {
        let big = vec![b' '; MAX_DESCRIPTOR_BYTES + 1];
        assert!(matches!(
            Descriptor::parse("big.json", &big),
            Err(DescriptorError::TooLarge { .. })
        ));
        let unnamed = br#"{"context":{"contract":{"deployments":[{"chainId":1,"address":"0x0000000000000000000000000000000000000001"}]}},
            "display":{"formats":{"wrap(uint256)":{"intent":"Wrap","fields":[]}}}}"#;
        assert!(matches!(
            Descriptor::parse("unnamed.json", unnamed),
            Err(DescriptorError::BadSignature { .. })
        ));
        let eip712 = br#"{"context":{"eip712":{}},"display":{"formats":{}}}"#;
        assert!(matches!(
            Descriptor::parse("eip712.json", eip712),
            Err(DescriptorError::NoDeployments)
        ));
    }
}
