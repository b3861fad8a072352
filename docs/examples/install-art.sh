pip install 'redwatch[art]'
