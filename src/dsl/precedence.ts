import type * as A from './ast.js';

/** Binding strength of the binary operators, loosest (1) to tightest: shared by parser and formatter. */
export const PRECEDENCE: Readonly<Record<A.BinaryOperator, number>> = {
  '||': 1,
  '&&': 2,
  '==': 3,
  '!=': 3,
  in: 3,
  '<': 4,
  '>': 4,
  '<=': 4,
  '>=': 4,
  '+': 5,
  '-': 5,
  '*': 6,
  '/': 6,
  '%': 6,
};
