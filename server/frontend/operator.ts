// OperatorService: custom search attribute registration (Add/List/RemoveSearchAttributes).
// Registrations are global to the server (every namespace sees them), persisted in SQLite, and kept
// in step with ctx.searchAttributes, which the query language and the index read.
import { invalidArgument, type Handler } from '../grpc';
import type { ServerContext } from '../context';
import type { SearchAttributeRegistry } from '../visibility/search-attributes';
import { PREDEFINED_ATTRIBUTES, SYSTEM_ATTRIBUTES, isReservedName, isValidType } from '../visibility/search-attributes';

export function operatorHandlers(ctx: ServerContext, registry: SearchAttributeRegistry): Record<string, Handler> {
  const namespaceOf = (req: any) => {
    if (!req.namespace) throw invalidArgument('Namespace is not set on request.');
    return ctx.namespaces.get(req.namespace).name;
  };
  return {
    AddSearchAttributes: async (req) => {
      const attrs = Object.entries<number>(req.searchAttributes ?? {});
      if (!attrs.length) throw invalidArgument('SearchAttributes are not set on request.');
      for (const [name, type] of attrs) {
        if (isReservedName(name)) throw invalidArgument(`Search attribute ${name} is reserved by system.`);
        if (!isValidType(type)) throw invalidArgument(`Unknown search attribute type: ${type}.`);
        if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(name) || name.length > 255)
          throw invalidArgument(`Search attribute name ${name} is not valid.`);
      }
      namespaceOf(req);
      const added = registry.add(new Map(attrs));
      if (added.length) ctx.log.info({ searchAttributes: added }, 'search attributes added');
      return {};
    },
    RemoveSearchAttributes: (req) => {
      const names: string[] = req.searchAttributes ?? [];
      if (!names.length) throw invalidArgument('SearchAttributes are not set on request.');
      for (const name of names)
        if (isReservedName(name)) throw invalidArgument(`Unable to remove non-custom search attributes: ${name}.`);
      namespaceOf(req);
      registry.remove(names);
      return {};
    },
    ListSearchAttributes: (req) => {
      namespaceOf(req);
      return {
        customAttributes: registry.custom(),
        systemAttributes: { ...SYSTEM_ATTRIBUTES, ...PREDEFINED_ATTRIBUTES },
        storageSchema: {},
      };
    },
  };
}
