/** asl-validator 4 ships no types: what test/lib/engine.test.ts uses of it. */
declare module 'asl-validator' {
  interface ValidationResult {
    isValid: boolean;
    errors: Array<{ message?: string }>;
    errorsText: (separator?: string) => string;
  }
  export default function aslValidator(definition: object, options?: { checkPaths?: boolean; checkArn?: boolean }): ValidationResult;
}
