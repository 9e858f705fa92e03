import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Node } from 'web-tree-sitter';
import { type BicepFile, declarations, stringValue } from './bicep';

/**
 * Reads the role assignments a Bicep file declares, with loops unrolled, so the contract tests
 * can ask "who gets which role on what". It evaluates the small part of Bicep role assignments
 * are written in (literals, objects, arrays, member access, `loadJsonContent`, `for` loops over
 * JSON, indexed `existing` resource collections, `subscriptionResourceId`); anything else stays
 * symbolic (its source text), so an expression it does not understand can never pass as a
 * concrete scope or role by accident.
 */
export interface Symbolic {
  symbolic: string;
}
export interface ResourceRef {
  resource: string;
  type: string;
  name: Value;
  parent?: ResourceRef;
}
export type Value = string | number | boolean | null | Value[] | { [key: string]: Value } | Symbolic | ResourceRef;

export interface RoleAssignmentFact {
  declaration: string;
  /** The parameter (or expression) the principal id comes from, e.g. managedIdentityPrincipalId. */
  principal: string;
  /** Role definition GUID, or the unevaluated expression. */
  roleId: string;
  scope: ResourceRef | Symbolic;
  /** Declared with `if (...)` or looped over a conditional list: may not exist in every deployment. */
  conditional: boolean;
}

const isSymbolic = (v: Value): v is Symbolic => typeof v === 'object' && v !== null && 'symbolic' in v;
export const isResourceRef = (v: unknown): v is ResourceRef =>
  typeof v === 'object' && v !== null && 'resource' in v && 'type' in v;

const named = (node: Node) => node.children.filter((c): c is Node => c?.isNamed === true);

type Scope = Map<string, Value>;

class Evaluator {
  private readonly variables: Map<string, Node>;
  private readonly resources: Map<string, Node>;
  private readonly cache = new Map<string, Value>();

  constructor(private readonly file: BicepFile) {
    this.variables = declarations(file, 'variable_declaration');
    this.resources = declarations(file, 'resource_declaration');
  }

  variable(name: string): Value {
    const cached = this.cache.get(name);
    if (cached !== undefined) return cached;
    const node = this.variables.get(name);
    const children = node ? named(node) : [];
    const value = children.length ? this.evaluate(children[children.length - 1]!, new Map()) : { symbolic: name };
    this.cache.set(name, value);
    return value;
  }

  /** The body of a resource declaration: the object, the loop, or the `if` it is wrapped in. */
  resourceBody(declaration: Node): Node {
    const body = named(declaration).filter((c) => c.type !== 'identifier' && c.type !== 'string');
    return body[body.length - 1]!;
  }

  resourceType(declaration: Node): string {
    const type = named(declaration).find((c) => c.type === 'string');
    return (type && stringValue(type)?.split('@')[0]) ?? '';
  }

  /** Each instance of a resource declaration: [bound loop variables, body object, conditional]. */
  instances(declaration: Node, outer: Scope = new Map()): { scope: Scope; body: Node; conditional: boolean }[] {
    let body = this.resourceBody(declaration);
    let conditional = false;
    if (body.type === 'if_statement') {
      conditional = true;
      body = named(body).find((c) => c.type === 'object')!;
    }
    if (body.type === 'object') return [{ scope: outer, body, conditional }];
    if (body.type !== 'for_statement') return [];
    const parts = named(body);
    const objectNode = parts[parts.length - 1]!;
    const collectionNode = parts[parts.length - 2]!;
    const binding = parts[0]!;
    let itemName: string | undefined;
    let indexName: string | undefined;
    if (binding.type === 'for_loop_parameters') {
      itemName = named(binding).find((c) => c.type === 'loop_variable')?.text;
      indexName = named(binding).find((c) => c.type === 'loop_enumerator')?.text;
    } else itemName = binding.text;
    const { value: collection, conditional: conditionalList } = this.collection(collectionNode, outer);
    if (!Array.isArray(collection)) return [];
    return collection.map((item, index) => {
      const scope = new Map(outer);
      if (itemName) scope.set(itemName, item);
      if (indexName) scope.set(indexName, index);
      return { scope, body: objectNode, conditional: conditional || conditionalList };
    });
  }

  /** A loop's collection; `cond ? [] : [...]` (or the reverse) is the non-empty list, marked conditional. */
  private collection(node: Node, scope: Scope): { value: Value; conditional: boolean } {
    const inner = node.type === 'parenthesized_expression' ? named(node)[0]! : node;
    if (inner.type === 'ternary_expression') {
      const [, whenTrue, whenFalse] = named(inner).map((n) => this.evaluate(n, scope));
      const empty = (v: Value | undefined) => Array.isArray(v) && v.length === 0;
      if (empty(whenTrue)) return { value: whenFalse ?? [], conditional: true };
      if (empty(whenFalse)) return { value: whenTrue ?? [], conditional: true };
    }
    return { value: this.evaluate(inner, scope), conditional: false };
  }

  properties(object: Node): Map<string, Node> {
    const found = new Map<string, Node>();
    for (const property of named(object).filter((c) => c.type === 'object_property')) {
      const [key, value] = named(property);
      if (key && value) found.set(key.type === 'string' ? (stringValue(key) ?? key.text) : key.text, value);
    }
    return found;
  }

  resourceRef(name: string, index?: Value): Value {
    const declaration = this.resources.get(name);
    if (!declaration) return { symbolic: name };
    const instances = this.instances(declaration);
    const instance = typeof index === 'number' ? instances[index] : instances.length === 1 ? instances[0] : undefined;
    if (!instance) return { symbolic: `${name}[${JSON.stringify(index)}]` };
    const props = this.properties(instance.body);
    const nameNode = props.get('name');
    const parentNode = props.get('parent');
    const parent = parentNode ? this.evaluate(parentNode, instance.scope) : undefined;
    return {
      resource: name,
      type: this.resourceType(declaration),
      name: nameNode ? this.evaluate(nameNode, instance.scope) : { symbolic: `${name}.name` },
      ...(isResourceRef(parent) ? { parent } : {}),
    };
  }

  evaluate(node: Node, scope: Scope): Value {
    switch (node.type) {
      case 'string': {
        const hasInterpolation = named(node).some((c) => c.type === 'interpolation');
        return hasInterpolation ? { symbolic: node.text } : (stringValue(node) ?? '');
      }
      case 'number':
        return Number(node.text);
      case 'boolean':
        return node.text === 'true';
      case 'null':
        return null;
      case 'parenthesized_expression':
        return this.evaluate(named(node)[0]!, scope);
      case 'array':
        return named(node).map((c) => this.evaluate(c, scope));
      case 'object': {
        const result: Record<string, Value> = {};
        for (const [key, value] of this.properties(node)) result[key] = this.evaluate(value, scope);
        return result;
      }
      case 'identifier':
      case 'loop_variable':
      case 'loop_enumerator': {
        if (scope.has(node.text)) return scope.get(node.text)!;
        if (this.variables.has(node.text)) return this.variable(node.text);
        if (this.resources.has(node.text)) return this.resourceRef(node.text);
        return { symbolic: node.text };
      }
      case 'member_expression': {
        const [objectNode, property] = named(node);
        const object = objectNode ? this.evaluate(objectNode, scope) : null;
        const key = property?.text ?? '';
        if (isResourceRef(object)) return { symbolic: `${object.resource}.${key}` };
        if (object && typeof object === 'object' && !Array.isArray(object) && !isSymbolic(object) && key in object) {
          return (object as Record<string, Value>)[key]!;
        }
        return { symbolic: node.text };
      }
      case 'subscript_expression': {
        const [objectNode, indexNode] = named(node);
        const index = indexNode ? this.evaluate(indexNode, scope) : null;
        if (objectNode?.type === 'identifier' && this.resources.has(objectNode.text) && !scope.has(objectNode.text)) {
          return this.resourceRef(objectNode.text, index);
        }
        const object = objectNode ? this.evaluate(objectNode, scope) : null;
        if (Array.isArray(object) && typeof index === 'number') return object[index] ?? { symbolic: node.text };
        return { symbolic: node.text };
      }
      case 'call_expression': {
        const fn = node.childForFieldName('function')?.text;
        const argumentsNode = node.childForFieldName('arguments');
        const values = (argumentsNode ? named(argumentsNode) : []).map((a) => this.evaluate(a, scope));
        if (fn === 'loadJsonContent' && typeof values[0] === 'string') {
          return JSON.parse(readFileSync(path.resolve(path.dirname(this.file.path), values[0]), 'utf8')) as Value;
        }
        if (fn === 'subscriptionResourceId' && values[0] === 'Microsoft.Authorization/roleDefinitions') {
          return typeof values[1] === 'string' ? values[1] : { symbolic: node.text };
        }
        return { symbolic: node.text };
      }
      default:
        return { symbolic: node.text };
    }
  }
}

/** Every role assignment the file declares, one fact per (loop) instance. */
export function roleAssignments(file: BicepFile): RoleAssignmentFact[] {
  const evaluator = new Evaluator(file);
  const facts: RoleAssignmentFact[] = [];
  for (const [name, declaration] of declarations(file, 'resource_declaration')) {
    if (evaluator.resourceType(declaration) !== 'Microsoft.Authorization/roleAssignments') continue;
    for (const { scope, body, conditional } of evaluator.instances(declaration)) {
      const props = evaluator.properties(body);
      const properties = props.get('properties');
      const inner = properties ? evaluator.properties(properties) : new Map<string, Node>();
      const roleNode = inner.get('roleDefinitionId');
      const principalNode = inner.get('principalId');
      const scopeNode = props.get('scope');
      const role = roleNode ? evaluator.evaluate(roleNode, scope) : { symbolic: '(no roleDefinitionId)' };
      const resourceScope = scopeNode ? evaluator.evaluate(scopeNode, scope) : { symbolic: 'resourceGroup()' };
      facts.push({
        declaration: name,
        principal: principalNode?.text ?? '(no principalId)',
        roleId: typeof role === 'string' ? role : JSON.stringify(role),
        scope: isResourceRef(resourceScope) ? resourceScope : { symbolic: JSON.stringify(resourceScope) },
        conditional,
      });
    }
  }
  return facts;
}

/** The `var roles = { name: 'guid' }` table of a file, GUID → name. */
export function roleNames(file: BicepFile): Map<string, string> {
  const evaluator = new Evaluator(file);
  const roles = evaluator.variable('roles');
  const names = new Map<string, string>();
  if (roles && typeof roles === 'object' && !Array.isArray(roles) && !isSymbolic(roles) && !isResourceRef(roles)) {
    for (const [name, id] of Object.entries(roles)) if (typeof id === 'string') names.set(id, name);
  }
  return names;
}

/** `Microsoft.ServiceBus/namespaces/topics/subscriptions 'register-model'` and the like, for messages. */
export function describeScope(scope: ResourceRef | Symbolic): string {
  if (!isResourceRef(scope)) return `(unresolved scope ${scope.symbolic})`;
  const name = typeof scope.name === 'string' ? scope.name : JSON.stringify(scope.name);
  return `${scope.type} '${name}'`;
}

export const PRINCIPAL_APP = 'managedIdentityPrincipalId';
const SUBSCRIPTION_TYPE = 'Microsoft.ServiceBus/namespaces/topics/subscriptions';
const TOPIC_TYPE = 'Microsoft.ServiceBus/namespaces/topics';

/** A Service Bus trigger as functions/ registers it. */
export interface ServiceBusTrigger {
  functionName: string;
  subscriptionName: string;
}

/** The Service Bus roles, by the names rbac.bicep's `roles` table uses. */
export interface ServiceBusRoleIds {
  sender: string;
  receiver: string;
  owner: string;
}

/**
 * Every way the app identity's Service Bus roles differ from what the triggers need and the
 * publisher uses: Data Receiver and Data Owner on each subscription a trigger reads (not the
 * topic: the Functions docs say topic scope alone errors), Data Sender on the topic, and nothing
 * else on the bus.
 */
export function serviceBusRoleProblems(
  facts: readonly RoleAssignmentFact[],
  triggers: readonly ServiceBusTrigger[],
  roles: ServiceBusRoleIds,
): string[] {
  const problems: string[] = [];
  const roleName = (id: string) =>
    id === roles.sender
      ? 'Data Sender'
      : id === roles.receiver
        ? 'Data Receiver'
        : id === roles.owner
          ? 'Data Owner'
          : id;
  const app = facts.filter((f) => f.principal === PRINCIPAL_APP);
  const onBus = app.filter((f) => isResourceRef(f.scope) && f.scope.type.startsWith('Microsoft.ServiceBus/'));
  const subscriptionName = (f: RoleAssignmentFact) =>
    isResourceRef(f.scope) && f.scope.type === SUBSCRIPTION_TYPE && typeof f.scope.name === 'string'
      ? f.scope.name
      : undefined;
  const read = new Set(triggers.map((t) => t.subscriptionName));

  for (const trigger of triggers) {
    for (const role of [roles.receiver, roles.owner]) {
      const granted = onBus.find((f) => f.roleId === role && subscriptionName(f) === trigger.subscriptionName);
      if (!granted) {
        problems.push(
          `${trigger.functionName} reads subscription '${trigger.subscriptionName}': the app identity has no ${roleName(role)} scoped to it`,
        );
      } else if (granted.conditional) {
        problems.push(`${granted.declaration}: ${roleName(role)} on '${trigger.subscriptionName}' is conditional`);
      }
    }
  }
  for (const fact of onBus) {
    const scope = fact.scope as ResourceRef;
    const subscription = subscriptionName(fact);
    if (scope.type === TOPIC_TYPE && fact.roleId !== roles.sender) {
      problems.push(
        `${fact.declaration}: ${roleName(fact.roleId)} at topic scope (triggers need it on their subscription; nothing else receives)`,
      );
    } else if (scope.type === SUBSCRIPTION_TYPE && (subscription === undefined || !read.has(subscription))) {
      problems.push(`${fact.declaration}: ${roleName(fact.roleId)} on ${describeScope(scope)}, which no trigger reads`);
    } else if (scope.type === SUBSCRIPTION_TYPE && fact.roleId !== roles.receiver && fact.roleId !== roles.owner) {
      problems.push(
        `${fact.declaration}: ${roleName(fact.roleId)} on ${describeScope(scope)} (triggers need Receiver + Owner only)`,
      );
    } else if (scope.type !== TOPIC_TYPE && scope.type !== SUBSCRIPTION_TYPE) {
      problems.push(`${fact.declaration}: ${roleName(fact.roleId)} on ${describeScope(scope)} (wider than one entity)`);
    }
  }
  for (const fact of app.filter((f) => !isResourceRef(f.scope))) {
    problems.push(
      `${fact.declaration}: role ${roleName(fact.roleId)} on a scope this check cannot resolve ${describeScope(fact.scope)}`,
    );
  }
  if (!onBus.some((f) => f.roleId === roles.sender && (f.scope as ResourceRef).type === TOPIC_TYPE && !f.conditional)) {
    problems.push('the app identity has no Data Sender on the topic (it publishes every event there)');
  }
  return problems;
}
