export {
  ArithmeticOptions,
  ArithmeticTask,
  evaluateArithmetic,
  operandDigits,
  parseIntegerAnswer,
  splitOf,
  wrongAnswer,
  type ArithmeticProblem,
  type ArithmeticRowKind,
  type ArithmeticSplit,
  type WrongAnswerKind,
} from './arithmetic';
