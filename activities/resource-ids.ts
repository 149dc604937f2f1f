// The workflow id of a resource's lock workflow (pure: shared by workflow code and activities).
export function resourceLockId(resource: string): string {
  return `longhaul-resource-${resource}`;
}
