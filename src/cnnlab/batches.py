"""Re-exports of cnnlab.data.batches for train.py, evaluate.py, plots.py, calibrate.py and benchmarks/;
to be removed once they import cnnlab.data.batches."""

from cnnlab.data.batches import CROP_PADDING, BatchPreparer, StudyData, load_study_data

__all__ = ["CROP_PADDING", "BatchPreparer", "StudyData", "load_study_data"]
