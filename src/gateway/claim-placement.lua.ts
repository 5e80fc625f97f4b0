/**
 * Places an agent id on a gateway unless it is placed on a live one: the placement is set when absent
 * or when it names the gateway the caller found dead.
 *
 * KEYS[1]  placement key of the agent (`{prefix}:gw:place:{agent id}`)
 * ARGV[1]  the gateway to place it on
 * ARGV[2]  the gateway the caller saw as the owner and found dead, or '' when it saw none
 * Returns  the gateway the agent is placed on after the call
 */
export const CLAIM_PLACEMENT_LUA = `
local current = redis.call('GET', KEYS[1])
if (not current) or current == ARGV[2] then
  redis.call('SET', KEYS[1], ARGV[1])
  return ARGV[1]
end
return current
`;
