//! The one ABI source for every contract signgate reads or calls.
//!
//! Selectors, event topics and encoders come from these `sol!` definitions only (`Call::SELECTOR`,
//! `Event::SIGNATURE_HASH`); no other module writes a selector or a signature as a literal.

// `sol!` generates call, return and event types, fields and constructors that the Solidity items'
// doc comments and derives do not reach; the allows cover this generated module only.
#![allow(
    missing_docs,
    missing_debug_implementations,
    clippy::too_many_arguments
)]

use alloy_sol_types::sol;

sol! {
    /// The Safe singleton's functions, as every version from 1.1.1 to 1.5.0 exposes them.
    #[derive(Debug, PartialEq, Eq)]
    interface ISafe {
        function execTransaction(address to, uint256 value, bytes data, uint8 operation, uint256 safeTxGas, uint256 baseGas, uint256 gasPrice, address gasToken, address refundReceiver, bytes signatures) external payable returns (bool success);
        function getTransactionHash(address to, uint256 value, bytes data, uint8 operation, uint256 safeTxGas, uint256 baseGas, uint256 gasPrice, address gasToken, address refundReceiver, uint256 _nonce) external view returns (bytes32);
        function encodeTransactionData(address to, uint256 value, bytes data, uint8 operation, uint256 safeTxGas, uint256 baseGas, uint256 gasPrice, address gasToken, address refundReceiver, uint256 _nonce) external view returns (bytes);
        function checkSignatures(bytes32 dataHash, bytes data, bytes signatures) external view;
        function checkNSignatures(bytes32 dataHash, bytes data, bytes signatures, uint256 requiredSignatures) external view;
        function checkSignatures(address executor, bytes32 dataHash, bytes signatures) external view;
        function checkNSignatures(address executor, bytes32 dataHash, bytes signatures, uint256 requiredSignatures) external view;
        function setup(address[] _owners, uint256 _threshold, address to, bytes data, address fallbackHandler, address paymentToken, uint256 payment, address paymentReceiver) external;
        function approveHash(bytes32 hashToApprove) external;
        function approvedHashes(address owner, bytes32 hash) external view returns (uint256);
        function nonce() external view returns (uint256);
        function getThreshold() external view returns (uint256);
        function getOwners() external view returns (address[]);
        function getModulesPaginated(address start, uint256 pageSize) external view returns (address[] array, address next);
        function isOwner(address owner) external view returns (bool);
        function domainSeparator() external view returns (bytes32);
        function VERSION() external view returns (string);
        function getStorageAt(uint256 offset, uint256 length) external view returns (bytes);
        function masterCopy() external view returns (address);

        // Self-calls that change who controls the Safe (OwnerManager, ModuleManager,
        // GuardManager, FallbackManager, and ≤1.2.0's MasterCopy).
        function addOwnerWithThreshold(address owner, uint256 _threshold) external;
        function removeOwner(address prevOwner, address owner, uint256 _threshold) external;
        function swapOwner(address prevOwner, address oldOwner, address newOwner) external;
        function changeThreshold(uint256 _threshold) external;
        function enableModule(address module) external;
        function disableModule(address prevModule, address module) external;
        function setGuard(address guard) external;
        function setModuleGuard(address moduleGuard) external;
        function setFallbackHandler(address handler) external;
        function changeMasterCopy(address _masterCopy) external;

        function execTransactionFromModule(address to, uint256 value, bytes data, uint8 operation) external returns (bool success);

        event ExecutionSuccess(bytes32 txHash, uint256 payment);
        event ExecutionFailure(bytes32 txHash, uint256 payment);
        event AddedOwner(address owner);
        event RemovedOwner(address owner);
        event ChangedThreshold(uint256 threshold);
        event EnabledModule(address module);
        event DisabledModule(address module);
        event ChangedGuard(address guard);
        event ChangedModuleGuard(address moduleGuard);
        event ChangedFallbackHandler(address handler);
        event ChangedMasterCopy(address masterCopy);
        event ApproveHash(bytes32 indexed approvedHash, address indexed owner);
    }

    /// The batching libraries (MultiSend and MultiSendCallOnly share the signature).
    #[derive(Debug, PartialEq, Eq)]
    interface IMultiSend {
        function multiSend(bytes transactions) external payable;
    }

    /// Safe libraries that are legitimately DELEGATECALLed.
    #[derive(Debug, PartialEq, Eq)]
    interface ISignMessageLib {
        function signMessage(bytes _data) external;
    }

    #[derive(Debug, PartialEq, Eq)]
    interface ICreateCall {
        function performCreate(uint256 value, bytes deploymentData) external returns (address newContract);
        function performCreate2(uint256 value, bytes deploymentData, bytes32 salt) external returns (address newContract);
    }

    #[derive(Debug, PartialEq, Eq)]
    interface ISafeMigration {
        function migrateSingleton() external;
        function migrateWithFallbackHandler() external;
        function migrateL2Singleton() external;
        function migrateL2WithFallbackHandler() external;
    }

    /// EIP-1271 contract signatures: 1.5.0 asks the bytes32 form, older versions the bytes form.
    #[derive(Debug, PartialEq, Eq)]
    interface IERC1271 {
        function isValidSignature(bytes32 hash, bytes signature) external view returns (bytes4);
    }

    #[derive(Debug, PartialEq, Eq)]
    interface ILegacyERC1271 {
        function isValidSignature(bytes data, bytes signature) external view returns (bytes4);
    }

    /// ERC-20 (plus the widespread `increaseAllowance` extension).
    #[derive(Debug, PartialEq, Eq)]
    interface IERC20 {
        function transfer(address to, uint256 amount) external returns (bool);
        function transferFrom(address from, address to, uint256 amount) external returns (bool);
        function approve(address spender, uint256 amount) external returns (bool);
        function increaseAllowance(address spender, uint256 addedValue) external returns (bool);
        function balanceOf(address owner) external view returns (uint256);
        event Transfer(address indexed from, address indexed to, uint256 value);
        event Approval(address indexed owner, address indexed spender, uint256 value);
    }

    /// ERC-20's optional metadata, read only to show amounts in units people count (never to
    /// decide): `decimals()` and `symbol()`.
    #[derive(Debug, PartialEq, Eq)]
    interface IERC20Metadata {
        function decimals() external view returns (uint8);
        function symbol() external view returns (string);
    }

    /// ERC-721 transfers and operator approval. `transferFrom` and `approve` share their
    /// selectors with ERC-20; the decoder reports them once, as token calls that may be either.
    #[derive(Debug, PartialEq, Eq)]
    interface IERC721 {
        function safeTransferFrom(address from, address to, uint256 tokenId) external;
        function safeTransferFrom(address from, address to, uint256 tokenId, bytes data) external;
        function setApprovalForAll(address operator, bool approved) external;
        event ApprovalForAll(address indexed owner, address indexed operator, bool approved);
    }

    /// ERC-1155 transfers (`setApprovalForAll` is shared with ERC-721).
    #[derive(Debug, PartialEq, Eq)]
    interface IERC1155 {
        function safeTransferFrom(address from, address to, uint256 id, uint256 value, bytes data) external;
        function safeBatchTransferFrom(address from, address to, uint256[] ids, uint256[] values, bytes data) external;
        event TransferSingle(address indexed operator, address indexed from, address indexed to, uint256 id, uint256 value);
        event TransferBatch(address indexed operator, address indexed from, address indexed to, uint256[] ids, uint256[] values);
    }

    /// Uniswap's Permit2 allowance functions (canonical address in `deployments::PERMIT2`).
    #[derive(Debug, PartialEq, Eq)]
    interface IPermit2 {
        struct PermitDetails { address token; uint160 amount; uint48 expiration; uint48 nonce; }
        struct PermitSingle { PermitDetails details; address spender; uint256 sigDeadline; }
        struct PermitBatch { PermitDetails[] details; address spender; uint256 sigDeadline; }
        struct TokenSpenderPair { address token; address spender; }
        struct AllowanceTransferDetails { address from; address to; uint160 amount; address token; }
        function approve(address token, address spender, uint160 amount, uint48 expiration) external;
        function permit(address owner, PermitSingle permitSingle, bytes signature) external;
        function permit(address owner, PermitBatch permitBatch, bytes signature) external;
        function transferFrom(address from, address to, uint160 amount, address token) external;
        function transferFrom(AllowanceTransferDetails[] transferDetails) external;
        function lockdown(TokenSpenderPair[] approvals) external;
        event Approval(address indexed owner, address indexed token, address indexed spender, uint160 amount, uint48 expiration);
        event Permit(address indexed owner, address indexed token, address indexed spender, uint160 amount, uint48 expiration, uint48 nonce);
    }

    /// Transaction guards (1.3.0 on) and module guards (1.5.0).
    #[derive(Debug, PartialEq, Eq)]
    interface IGuard {
        function checkTransaction(address to, uint256 value, bytes data, uint8 operation, uint256 safeTxGas, uint256 baseGas, uint256 gasPrice, address gasToken, address refundReceiver, bytes signatures, address msgSender) external;
        function checkAfterExecution(bytes32 txHash, bool success) external;
    }

    /// EIP-1967 proxy upgrade entry points, for proxies a Safe administers.
    #[derive(Debug, PartialEq, Eq)]
    interface IUpgradeable {
        function upgradeTo(address newImplementation) external;
        function upgradeToAndCall(address newImplementation, bytes data) external payable;
        event Upgraded(address indexed implementation);
    }
}
