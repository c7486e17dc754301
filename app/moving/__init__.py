"""Moving house (#23): bring a person's data in, from an export or from her old panel."""
