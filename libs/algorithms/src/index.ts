// @rxrl/algorithms: SFT, DPO and GRPO on the @rxrl/pipeline runner.
export {};
