"""Storage: content-addressed-ish blobs on disk under paths.storage_blob_dir(), rows in StorageObject.

`objects` writes and reads objects (namespace + path); `artifacts` turns runtime outputs
(downloads, screenshots, PDFs) into storage objects plus Artifact rows.
"""
