"""Installing the project as its users do: any supported Python with the pip it ships, and the image."""
