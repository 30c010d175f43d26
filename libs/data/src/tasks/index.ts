export {
  ArithmeticOptions,
  ArithmeticTask,
  evaluateArithmetic,
  parseIntegerAnswer,
  splitOf,
  wrongAnswer,
  type ArithmeticProblem,
  type ArithmeticSplit,
  type WrongAnswerKind,
} from './arithmetic';
