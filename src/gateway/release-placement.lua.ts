/**
 * Releases an agent's placement if it still names this gateway (another may have taken it over).
 *
 * KEYS[1]  placement key of the agent (`{prefix}:gw:place:{agent id}`)
 * ARGV[1]  the releasing gateway
 * Returns  1 if released, 0 if the placement named another gateway or none
 */
export const RELEASE_PLACEMENT_LUA = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`;
