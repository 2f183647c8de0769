"""The book machinery: the Sphinx extension, the page template, claim checks and the
figure style. Pages import the template from here; chapter code never imports it."""
