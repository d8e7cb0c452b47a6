//! Webhooks: how messages leave for a tenant's endpoints. Payloads follow
//! the Standard Webhooks specification, so receivers verify them with any
//! of its libraries ([`signature`]); endpoint addresses are checked against
//! server-side request forgery ([`address`]).

pub mod address;
pub mod signature;
