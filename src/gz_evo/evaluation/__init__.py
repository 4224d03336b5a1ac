"""How good a model is: Dirichlet metrics (loss per question and campaign, vote-fraction MAE,
interval coverage) and the prediction table (:mod:`gz_evo.evaluation.dirichlet`); transfer to new
labelled questions (:mod:`gz_evo.evaluation.transfer`)."""
