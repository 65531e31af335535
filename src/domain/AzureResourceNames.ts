// ARM's naming rules (learn.microsoft.com, "Naming rules and restrictions for Azure resources").

const RESOURCE_GROUP_PATTERN = /^[-\p{L}\p{N}_.()]{1,90}$/u
const SUBSCRIPTION_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** ARM's rule for a resource group name. */
export const isResourceGroupName = (value: string): boolean => RESOURCE_GROUP_PATTERN.test(value) && !value.endsWith(".")

/** What a resource group name may be, for messages: "<name> is not ..." */
export const RESOURCE_GROUP_RULE = `1-90 letters, digits, "-", "_", ".", "(" and ")", not ending with "."`

/** A subscription id is a GUID; ARM compares it case-insensitively. */
export const isSubscriptionId = (value: string): boolean => SUBSCRIPTION_ID_PATTERN.test(value)
