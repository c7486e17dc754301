"""Moving house (#23): bring a person's data in, from an export ZIP or straight from her old panel."""
