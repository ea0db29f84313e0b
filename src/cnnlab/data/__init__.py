"""The data wing: from a dataset's declaration to the batches a model sees.

    catalog.py     one declaration per dataset (DatasetInfo): classes, shape, statistics, format,
                   digests, where mirrors keep it, how to download it, its title and marker
    formats/       one module per on-disk format (idx.py, cifar.py): copy from a folder, parse
    fetch.py       sources (mirror, Debian package, internet), verification, the data root's lock
    load.py        a fetched dataset in memory, checked against its provenance (Splits)
    batches.py     the seeded train/validation split (StudyData) and batch preparation
    transforms.py  transforms on whole uint8 batches on the model's device
"""
