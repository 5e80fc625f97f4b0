/**
 * The typed AST of the agent definition language (see docs/dsl.md). Every node carries its source
 * span; comments are attached to list elements (`comments`) so the formatter can keep them.
 */

/** A point in the source: 1-based line and column, 0-based character offset. */
export interface Position {
  readonly line: number;
  readonly column: number;
  readonly offset: number;
}

/** From `start` (inclusive) to `end` (exclusive: the position just after the last character). */
export interface Span {
  readonly start: Position;
  readonly end: Position;
}

/** A source comment, verbatim (`// text` or `# text`). */
export interface Comment {
  readonly text: string;
  readonly span: Span;
}

/** Comments attached to a list element: on the lines before it, and at the end of its last line. */
export interface AttachedComments {
  leading: Comment[];
  trailing: Comment[];
}

interface Node<K extends string> {
  readonly kind: K;
  readonly span: Span;
  comments?: AttachedComments;
}

export interface Identifier extends Node<'Identifier'> {
  readonly name: string;
}

// ---------------------------------------------------------------------------------------------
// Types

export interface TypeRef extends Node<'TypeRef'> {
  readonly name: Identifier;
  readonly args: TypeRef[];
}

export interface Param extends Node<'Param'> {
  readonly name: Identifier;
  readonly type: TypeRef;
}

// ---------------------------------------------------------------------------------------------
// Expressions

export interface StringLiteral extends Node<'String'> {
  /** The decoded value. */
  readonly value: string;
}
export interface NumberLiteral extends Node<'Number'> {
  readonly value: number;
  /** As written (keeps `_` separators). */
  readonly raw: string;
}
export interface DurationLiteral extends Node<'Duration'> {
  readonly amount: number;
  /** The unit as written: `s`, `m`, `h`, `d`, `w`, `months`, `y`, `ms`, or `.seconds` style. */
  readonly unit: string;
  readonly raw: string;
  /** Length in milliseconds (months are 30 days, years 365 days). */
  readonly ms: number;
}
export interface BooleanLiteral extends Node<'Boolean'> {
  readonly value: boolean;
}
export interface VaultRef extends Node<'Vault'> {
  /** The path after `vault://`. */
  readonly path: string;
}

/** A `value` in the grammar: string, duration, number, boolean or bare identifier. */
export type ValueNode = StringLiteral | NumberLiteral | DurationLiteral | BooleanLiteral | Identifier;

export type BinaryOperator =
  '||' | '&&' | '==' | '!=' | 'in' | '<' | '>' | '<=' | '>=' | '+' | '-' | '*' | '/' | '%';
export type UnaryOperator = '!' | 'not' | '-';

export interface BinaryExpr extends Node<'Binary'> {
  readonly op: BinaryOperator;
  readonly left: Expr;
  readonly right: Expr;
}
export interface UnaryExpr extends Node<'Unary'> {
  readonly op: UnaryOperator;
  readonly operand: Expr;
}
export interface MemberExpr extends Node<'Member'> {
  readonly object: Expr;
  readonly property: Identifier;
}
export interface CallArg extends Node<'CallArg'> {
  /** Named argument `name: e` or `name = e`. */
  readonly name?: Identifier;
  readonly sep?: ':' | '=';
  readonly value: Expr;
}
export interface CallExpr extends Node<'Call'> {
  readonly callee: Expr;
  readonly args: CallArg[];
}
export interface IndexExpr extends Node<'Index'> {
  readonly object: Expr;
  readonly index: Expr;
}
export interface LambdaExpr extends Node<'Lambda'> {
  readonly param: Identifier;
  readonly body: Expr;
}
export interface IfBranch<C> extends Node<'IfBranch'> {
  /** `if let pattern = cond` (statements only). */
  readonly pattern?: Pattern;
  readonly cond: Expr;
  readonly body: C;
}
export interface IfExpr extends Node<'IfExpr'> {
  /** `if a {..} else if b {..}` keeps both branches here, in order. */
  readonly branches: IfBranch<Block>[];
  readonly otherwise: Block;
}
export interface ArrayExpr extends Node<'Array'> {
  readonly elements: Expr[];
}
export interface RecordEntry extends Node<'RecordEntry'> {
  readonly key: Identifier | StringLiteral;
  readonly value: Expr;
}
export interface RecordExpr extends Node<'Record'> {
  readonly entries: RecordEntry[];
}
export interface TypedRecordExpr extends Node<'TypedRecord'> {
  readonly typeName: Identifier;
  readonly entries: RecordEntry[];
}
export interface ParenExpr extends Node<'Paren'> {
  readonly expr: Expr;
}

export type Expr =
  | ValueNode
  | VaultRef
  | BinaryExpr
  | UnaryExpr
  | MemberExpr
  | CallExpr
  | IndexExpr
  | LambdaExpr
  | IfExpr
  | ArrayExpr
  | RecordExpr
  | TypedRecordExpr
  | ParenExpr;

// ---------------------------------------------------------------------------------------------
// Patterns and statements

export interface LiteralPattern extends Node<'LiteralPattern'> {
  readonly value: StringLiteral | NumberLiteral | BooleanLiteral;
}
export type WildcardPattern = Node<'WildcardPattern'>;
export interface BindingPattern extends Node<'BindingPattern'> {
  readonly name: Identifier;
}
export type Pattern = LiteralPattern | WildcardPattern | BindingPattern;

export interface Block extends Node<'Block'> {
  readonly statements: Statement[];
  /** The final expression without `;`, the block's value. */
  readonly tail?: Expr;
  /** Comments before the closing brace. */
  danglingComments?: Comment[];
}

export interface LetStmt extends Node<'Let'> {
  readonly name: Identifier;
  readonly value: Expr;
}
export interface IfStmt extends Node<'If'> {
  readonly branches: IfBranch<Block>[];
  readonly otherwise?: Block;
}
export interface ForStmt extends Node<'For'> {
  readonly binding: Identifier;
  readonly iterable: Expr;
  readonly body: Block;
}
export interface MatchArm extends Node<'MatchArm'> {
  readonly pattern: Pattern;
  readonly body: Expr | Block;
}
export interface MatchStmt extends Node<'Match'> {
  readonly subject: Expr;
  readonly arms: MatchArm[];
  danglingComments?: Comment[];
}
export interface CatchClause extends Node<'Catch'> {
  /** `catch (e)` or `catch (ErrorType e)`: the one or two names, in source order. */
  readonly names: Identifier[];
  readonly body: Block;
}
export interface TryStmt extends Node<'Try'> {
  readonly body: Block;
  readonly catches: CatchClause[];
}
export interface ReturnStmt extends Node<'Return'> {
  readonly value?: Expr;
}
export type AssignOperator = '=' | '+=' | '-=' | '*=' | '/=' | '%=';
export interface AssignStmt extends Node<'Assign'> {
  readonly target: Expr;
  readonly op: AssignOperator;
  readonly value: Expr;
}
export interface ExprStmt extends Node<'ExprStmt'> {
  readonly expr: Expr;
}
export type Statement = LetStmt | IfStmt | ForStmt | MatchStmt | TryStmt | ReturnStmt | AssignStmt | ExprStmt;

// ---------------------------------------------------------------------------------------------
// Top-level items

/** `key = value`, `key: value` or (memory/webhook blocks) `key value`. */
export interface Entry extends Node<'Entry'> {
  readonly key: Identifier;
  readonly sep: '=' | ':' | ' ';
  readonly value: Expr;
}

export type RuleKind = 'allow' | 'deny' | 'require' | 'audit';
export interface PolicyRule extends Node<'Rule'> {
  readonly ruleKind: RuleKind;
  readonly expr: Expr;
  readonly condition?: Expr;
}
export interface PolicyDef extends Node<'Policy'> {
  readonly name: Identifier;
  readonly rules: PolicyRule[];
  danglingComments?: Comment[];
}

export interface MetadataDef extends Node<'Metadata'> {
  readonly entries: Entry[];
  danglingComments?: Comment[];
}

export interface CapabilitiesItem extends Node<'Capabilities'> {
  readonly sep: '=' | ':';
  readonly list: ArrayExpr;
}
export interface WithBlock extends Node<'With'> {
  readonly attributes: Entry[];
  readonly body: Block;
}
export type AgentItem = CapabilitiesItem | PolicyDef | FunctionDef | WithBlock;

export interface AgentDef extends Node<'Agent'> {
  readonly name: Identifier;
  /** Absent when the definition has no parameter list at all (`agent a { }`). */
  readonly params?: Param[];
  readonly returnType?: TypeRef;
  readonly items: AgentItem[];
  danglingComments?: Comment[];
}

export interface FieldDef extends Node<'Field'> {
  readonly name: Identifier;
  readonly type: TypeRef;
}
export interface TypeDef extends Node<'TypeDef'> {
  readonly name: Identifier;
  /** A struct `{ field: Type }` or an alias of another type name. */
  readonly body: { readonly kind: 'Struct'; readonly fields: FieldDef[]; readonly span: Span } | TypeRef;
}

export interface FunctionDef extends Node<'Function'> {
  readonly name: Identifier;
  readonly params: Param[];
  readonly returnType?: TypeRef;
  readonly body: Block;
}

export interface ScheduleDef extends Node<'Schedule'> {
  readonly name: Identifier;
  readonly entries: Entry[];
  danglingComments?: Comment[];
}

export interface ClassificationEntry extends Node<'Classification'> {
  readonly key: Identifier;
  readonly value: Identifier;
}
export interface DataClassificationBlock extends Node<'DataClassification'> {
  readonly entries: ClassificationEntry[];
}
export interface ChannelDef extends Node<'Channel'> {
  readonly name: Identifier;
  readonly members: (Entry | PolicyDef | DataClassificationBlock)[];
  danglingComments?: Comment[];
}

/** `search { ... }` inside memory, `filter { ... }` inside webhook. */
export interface SubBlock extends Node<'SubBlock'> {
  readonly keyword: 'search' | 'filter';
  readonly entries: Entry[];
}
export interface MemoryDef extends Node<'Memory'> {
  readonly name: Identifier;
  readonly members: (Entry | SubBlock)[];
  danglingComments?: Comment[];
}
export interface WebhookDef extends Node<'Webhook'> {
  readonly name: Identifier;
  readonly members: (Entry | SubBlock)[];
  danglingComments?: Comment[];
}

export type TopItem =
  | MetadataDef
  | AgentDef
  | PolicyDef
  | TypeDef
  | FunctionDef
  | ScheduleDef
  | ChannelDef
  | MemoryDef
  | WebhookDef;

export interface Program extends Node<'Program'> {
  readonly items: TopItem[];
  danglingComments?: Comment[];
}
